import type { EntityManager } from '@mikro-orm/postgresql';
import { UnauthorizedError } from '../errors.js';
import type { JobRequest } from '../jobs/contracts.js';
import { enqueue } from '../jobs/outbox.js';
import { recordAudit, type AuditEntry } from './admin/audit.js';
import { authorize, type AppAbility } from './auth/abilities.js';
import type { Actor, AuthUser } from './auth/actor.js';
import { User } from './users/user.entity.js';

/** Builds a feature service for one unit of work and one actor. */
export type ServiceFactory<S> = (em: EntityManager, actor: Actor) => S;

/**
 * The one shape of a feature service: `new XService(em, actor, deps)`.
 *
 * - `em`: the unit of work, a request- or job-scoped EntityManager (never the global one);
 * - `actor`: who is acting; every check goes through its ability, so no entry point can skip
 *   authorization;
 * - `deps`: the module's collaborators (other services' factories, stores, read models, caches),
 *   given once per process by the module's entry in `modules/services.ts`.
 *
 * Services take and return plain data (DTOs); entry points add their transport's envelopes.
 */
export abstract class FeatureService<Deps extends object = object> {
  constructor(
    protected readonly em: EntityManager,
    protected readonly actor: Actor,
    protected readonly deps: Deps,
  ) {}

  /** The acting user, for operations that need one: 401 for an anonymous actor. */
  protected get user(): AuthUser {
    if (!this.actor.user) throw new UnauthorizedError();
    return this.actor.user;
  }

  /**
   * The acting user's account as an entity in this unit of work, for operations that change it
   * (authentication gives only a small row): 401 for an anonymous actor or a vanished account.
   */
  protected async account(): Promise<User> {
    const user = await this.em.findOne(User, this.user.id);
    if (!user) throw new UnauthorizedError();
    return user;
  }

  /** Throws unless the actor may: 503 during a write freeze, otherwise 403 naming the refusal. */
  protected authorize(...[action, target, message]: AuthorizeArgs): void {
    authorize(this.actor.ability, action, target, message);
  }

  /** Records a privileged action by the actor, committed with `em`'s transaction. */
  protected audit(em: EntityManager, entry: AuditEntry): void {
    recordAudit(em, this.actor, entry);
  }

  /**
   * Enqueues a job through the outbox, committed with `em`'s transaction (which must be open);
   * the request id travels with it in the job's meta.
   */
  protected async enqueue(em: EntityManager, request: JobRequest): Promise<void> {
    await enqueue(em, request, this.actor.requestId ? { requestId: this.actor.requestId } : {});
  }
}

type AuthorizeArgs =
  Parameters<typeof authorize> extends [AppAbility, ...infer Rest] ? Rest : never;

/** The factory of a service class with its collaborators bound. */
export function serviceFactory<S, D>(
  Service: new (em: EntityManager, actor: Actor, deps: D) => S,
  deps: D,
): ServiceFactory<S> {
  return (em, actor) => new Service(em, actor, deps);
}

/** One page of a list and the size of the whole list (what the list's filters match). */
export interface Page<T> {
  items: T[];
  count: number;
}
