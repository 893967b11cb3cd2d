import type { EntityManager } from '@mikro-orm/postgresql';
import type { ReadCache } from '../cache.js';
import { primaryRouter, type ReadRouter } from '../db/read-source.js';
import type { QueueOperations } from '../jobs/queue.js';
import { AdminService } from './admin/admin.service.js';
import type { Maintenance } from './admin/maintenance.js';
import { ArticlesService } from './articles/articles.service.js';
import { AvatarsService, type AvatarsDeps } from './avatars/avatars.service.js';
import type { Actor } from './auth/actor.js';
import type { Sessions } from './auth/sessions.js';
import { SessionsService } from './auth/sessions.service.js';
import { CommentsService } from './comments/comments.service.js';
import { ExportsService, type ExportsDeps } from './exports/exports.service.js';
import { serviceFactory, type ServiceFactory } from './feature-service.js';
import { NotificationsService } from './notifications/notifications.service.js';
import { ProfilesService } from './profiles/profiles.service.js';
import { TagsService } from './tags/tags.service.js';
import type { Passwords } from './users/passwords.js';
import type { Tokens } from './users/tokens.js';
import { UsersService } from './users/users.service.js';

/** What the feature services are built from: one of each per process. */
export interface ServicesDeps {
  passwords: Passwords;
  tokens: Tokens;
  /** The session store. */
  sessions: Sessions;
  maintenance: Maintenance;
  /** Job counts, dead letters and re-queueing (admin API). */
  queues: QueueOperations;
  /** The read cache (docs/read-path.md). */
  cache: ReadCache;
  /** Where plain reads run. @default primaryRouter (the request's em) */
  readRouter?: ReadRouter;
  /** Data exports: their settings and the storage that signs their download links. */
  exports: ExportsDeps;
  /** User files and the avatar limits. */
  avatars: AvatarsDeps;
}

/** Every feature service, for one unit of work and one actor. */
export interface Services {
  admin: AdminService;
  articles: ArticlesService;
  avatars: AvatarsService;
  comments: CommentsService;
  exports: ExportsService;
  profiles: ProfilesService;
  sessions: SessionsService;
  tags: TagsService;
  users: UsersService;
  notifications: NotificationsService;
}

/**
 * The feature services' factories, one entry per module, wired once per process: a module's
 * collaborators (stores, other modules' services, read models, caches) are given here, never
 * looked up by the service. Entry points (REST routes, GraphQL resolvers, jobs) call the result
 * with their unit of work and actor; each service is built on first use.
 */
export function createServices(deps: ServicesDeps): ServiceFactory<Services> {
  const reads = { readRouter: deps.readRouter ?? primaryRouter, cache: deps.cache };
  const articles = serviceFactory(ArticlesService, reads);
  const users = serviceFactory(UsersService, {
    passwords: deps.passwords,
    tokens: deps.tokens,
    cache: deps.cache,
  });
  const sessions = serviceFactory(SessionsService, {
    store: deps.sessions,
    users,
    passwords: deps.passwords,
  });
  const factories: { [K in keyof Services]: ServiceFactory<Services[K]> } = {
    admin: serviceFactory(AdminService, {
      sessions,
      maintenance: deps.maintenance,
      queues: deps.queues,
    }),
    articles,
    avatars: serviceFactory(AvatarsService, deps.avatars),
    comments: serviceFactory(CommentsService, { articles, ...reads }),
    exports: serviceFactory(ExportsService, deps.exports),
    profiles: serviceFactory(ProfilesService, reads),
    sessions,
    tags: serviceFactory(TagsService, reads),
    users,
    notifications: serviceFactory(NotificationsService, {}),
  };
  // One class per process whose prototype builds each service on first use: a request's scope is
  // then one small object, not ten accessors and closures defined on it per request.
  class Scope {
    readonly built: Partial<Services> = {};
    constructor(
      readonly em: EntityManager,
      readonly actor: Actor,
    ) {}
  }
  for (const name of Object.keys(factories) as (keyof Services)[]) {
    Object.defineProperty(Scope.prototype, name, {
      enumerable: true,
      get(this: Scope) {
        return (this.built[name] ??= factories[name](this.em, this.actor) as never);
      },
    });
  }
  return (em: EntityManager, actor: Actor) => new Scope(em, actor) as unknown as Services;
}
