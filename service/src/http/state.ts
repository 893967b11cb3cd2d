import type { EntityManager } from '@mikro-orm/postgresql';
import type { Context, ParameterizedContext } from 'koa';
import type { Logger } from '../logger.js';
import type { Actor, AuthUser } from '../modules/auth/actor.js';
import type { Cookies } from './cookies.js';

/** What every request carries through the middleware chain. */
export interface AppState {
  requestId: string;
  log: Logger;
  /** Request-scoped EntityManager (forked per request, never the global one). */
  em: EntityManager;
  /** The service's cookies (session, OIDC state), one Secure rule for all. */
  cookies: Cookies;
  /** The authenticated user, when a valid token was presented. */
  user?: AuthUser;
  /** The raw token the user authenticated with (echoed back in RealWorld user responses). */
  token?: string;
  /** How the user authenticated: a bearer token, or a session cookie. */
  authMethod?: 'token' | 'session';
  /** The session, when authenticated by cookie. */
  session?: { id: string; csrfToken: string };
  /** Who is acting and what they may do right now, set after authentication on every route. */
  actor?: Actor;
}

export type AppContext = ParameterizedContext<AppState, Context>;

/** The request's actor, as feature services take it. */
export function actorOf(ctx: AppContext): Actor {
  if (!ctx.state.actor)
    throw new Error('actor not set: route mounted without the actor middleware');
  return ctx.state.actor;
}
