import type { EntityManager } from '@mikro-orm/postgresql';
import type { Context, ParameterizedContext } from 'koa';
import type { Logger } from '../logger.js';
import type { User } from '../modules/users/user.entity.js';

/** What every request carries through the middleware chain. */
export interface AppState {
  requestId: string;
  log: Logger;
  /** Request-scoped EntityManager (forked per request, never the global one). */
  em: EntityManager;
  /** The authenticated user, when a valid token was presented. */
  user?: User;
  /** The raw token the user authenticated with (echoed back in RealWorld user responses). */
  token?: string;
  /** How the user authenticated: a bearer token, or a session cookie. */
  authMethod?: 'token' | 'session';
  /** The session, when authenticated by cookie. */
  session?: { id: string; csrfToken: string };
}

export type AppContext = ParameterizedContext<AppState, Context>;
