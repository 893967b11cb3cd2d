import type { EntityManager } from '@mikro-orm/postgresql';
import type { Context, ParameterizedContext } from 'koa';
import type { Logger } from '../logger.js';
import type { AppAbility } from '../modules/auth/abilities.js';
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
  /** What this user may do right now (roles, ownership, environment), set before every route. */
  ability?: AppAbility;
}

export type AppContext = ParameterizedContext<AppState, Context>;

/** Who is acting: the user (if any), what they may do, and the request id for the audit log. */
export interface Actor {
  user: User | undefined;
  ability: AppAbility;
  requestId?: string;
}

/** The acting user, their ability and the request id, as feature services take them. */
export function actorOf(ctx: AppContext): Actor {
  if (!ctx.state.ability) throw new Error('ability not set: route mounted without abilities()');
  return { user: ctx.state.user, ability: ctx.state.ability, requestId: ctx.state.requestId };
}
