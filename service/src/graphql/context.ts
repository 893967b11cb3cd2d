import DataLoader from 'dataloader';
import type { OperationTypeNode } from 'graphql';
import type { Middleware } from 'koa';
import { NotFoundError, UnauthorizedError } from '../errors.js';
import type { JsonText } from '../json-text.js';
import type { AppContext, AppState } from '../http/state.js';
import type { CsrfRule } from '../http/auth.js';
import type { ArticleDto } from '../modules/articles/articles.schemas.js';
import type { Actor } from '../modules/auth/actor.js';
import type { CommentDto } from '../modules/comments/comments.schemas.js';
import type { Services } from '../modules/services.js';
import type { RateLimits } from '../rate-limits.js';

/** What the GraphQL endpoint needs from the app, wired once per process in createApp. */
export interface GraphqlDeps {
  /** The feature services for a unit of work and an actor (modules/services.ts). */
  services: (em: AppContext['state']['em'], actor: Actor) => Services;
  /**
   * Authentication as REST does it (token, else session cookie); `csrf` decides what a
   * cookie-authenticated request must show (the CSRF token for mutations).
   */
  authenticate: (csrf: CsrfRule) => Middleware<AppState>;
  /** Sets `ctx.state.actor` from `ctx.state.user` (roles, the write freeze). */
  actor: Middleware<AppState>;
  /** The anonymous actor, for operations that ignore credentials (login, registration). */
  anonymousActor: (ctx: AppContext) => Promise<Actor>;
  limits: RateLimits;
}

/** Per-item reads batched per request (one statement set per field, not one per parent). */
export interface Loaders {
  /** Full articles (body included) by slug; null when missing or not readable. */
  article: DataLoader<string, ArticleDto | null>;
  /** Comments of an article by its slug, oldest first. */
  comments: DataLoader<string, CommentDto[]>;
}

/**
 * One GraphQL request's context. Nothing here touches the database or Redis until a resolver
 * asks: a document refused by validation, depth, alias or cost limits costs no query.
 */
export interface GraphqlContext {
  koa: AppContext;
  /** Called before execution with the operation's type (CSRF applies to mutations). */
  setOperation(operation: OperationTypeNode | undefined): void;
  /** The request's actor: credentials checked and the actor built on first use. */
  actor(): Promise<Actor>;
  /** The feature services for the request's actor. */
  services(): Promise<Services>;
  /** The feature services for a signed-in actor: UNAUTHENTICATED otherwise (REST's `auth: required`). */
  signedIn(): Promise<Services>;
  /** The feature services for an anonymous actor (login and registration ignore credentials). */
  anonymousServices(): Promise<Services>;
  /** The request's loaders (built with the request's services on first use). */
  loaders(): Promise<Loaders>;
  limits: RateLimits;
  /** The client address the rate limits count against. */
  ip: string;
}

const done = async () => undefined;

/** A read that found nothing (or nothing the actor may see) is absent, not an error. */
const notFound = (err: unknown): undefined => {
  if (err instanceof NotFoundError) return undefined;
  throw err;
};

/** The value behind a service's JSON text (reads answer JSON text so REST can send cache hits as they are). */
export const valueOf = <T>(json: JsonText<T>): T => JSON.parse(json.text) as T;

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= make());
}

export function createContext(deps: GraphqlDeps, koa: AppContext): GraphqlContext {
  // The server library copies this object's fields into its own context object, so state lives
  // in closures, never in the object's own fields.
  let operation: OperationTypeNode | undefined;
  const context: GraphqlContext = {
    koa,
    setOperation: (type) => {
      operation = type;
    },
    limits: deps.limits,
    ip: koa.ip,
    actor: once(async () => {
      // A mutation sent with the session cookie must prove it came from our own front end.
      await deps.authenticate(() => (operation === 'mutation' ? 'token' : 'none'))(koa, done);
      await deps.actor(koa, done);
      return koa.state.actor!;
    }),
    services: once(async () => deps.services(koa.state.em, await context.actor())),
    signedIn: async () => {
      if (!(await context.actor()).user) throw new UnauthorizedError();
      return context.services();
    },
    anonymousServices: once(async () =>
      deps.services(koa.state.em, await deps.anonymousActor(koa)),
    ),
    loaders: once(async () => {
      const services = await context.services();
      return {
        // One key (an article page): the cached single read, as REST reads it. Several (the
        // nodes of a list): one batched read-model statement for all.
        article: new DataLoader(async (slugs) => {
          if (slugs.length === 1) {
            const one = await services.articles.get(slugs[0]!).catch(notFound);
            return [one ? valueOf(one) : null];
          }
          const found = await services.articles.getMany(slugs);
          return slugs.map((slug) => found.get(slug) ?? null);
        }),
        comments: new DataLoader(async (slugs) => {
          if (slugs.length === 1) {
            const one = await services.comments.list(slugs[0]!).catch(notFound);
            return [one ? valueOf(one) : []];
          }
          const found = await services.comments.listMany(slugs);
          return slugs.map((slug) => found.get(slug) ?? []);
        }),
      };
    }),
  };
  return context;
}
