import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { CSRF_HEADER } from '../../http/auth.js';
import { route, type RouteDef } from '../../http/routes.js';
import { RedisUnavailableError } from '../../redis-guard.js';
import { LoginUserRequest, UserSchema } from '../users/users.schemas.js';
import { toUserDto, UsersService, type UsersDeps } from '../users/users.service.js';
import type { Sessions } from './sessions.js';

const TAG = 'Sessions';

const SessionResponse = z
  .object({
    user: UserSchema.omit({ token: true }),
    csrfToken: z.string().meta({ description: `Send as ${CSRF_HEADER} on POST/PUT/DELETE` }),
  })
  .meta({ id: 'SessionResponse' });

function sessionBody(user: Parameters<typeof toUserDto>[0], csrfToken: string) {
  const { token: _token, ...rest } = toUserDto(user, '');
  return { user: rest, csrfToken };
}

/**
 * Cookie sessions for browser front ends (the RealWorld token flow stays as it is): log in,
 * read the current session, log out, log out everywhere.
 */
export function authRoutes(deps: UsersDeps & { sessions: Sessions }): RouteDef[] {
  const users = (em: EntityManager) => new UsersService(em, deps);
  return [
    route({
      method: 'post',
      path: '/sessions',
      operationId: 'CreateSession',
      summary: 'Log in with a session cookie (httpOnly); returns the CSRF token',
      tag: TAG,
      auth: 'none',
      body: LoginUserRequest,
      success: { status: 201, description: 'Session started', schema: SessionResponse },
      errors: [401],
      handler: async ({ body, ctx }) => {
        const user = await users(ctx.state.em).authenticate(body.user);
        // Any session the browser had is dropped: a login always gets a new id (no fixation).
        const previous = deps.sessions.cookieId(ctx);
        if (previous) await deps.sessions.destroy(previous, user.id).catch(() => undefined);
        const { id, session } = await deps.sessions.create(user.id);
        deps.sessions.setCookie(ctx, id);
        return sessionBody(user, session.csrfToken);
      },
    }),
    route({
      method: 'get',
      path: '/sessions/current',
      operationId: 'GetCurrentSession',
      summary: 'The session behind the cookie, with its CSRF token',
      tag: TAG,
      auth: 'required',
      success: { status: 200, description: 'The session', schema: SessionResponse },
      handler: async ({ user, ctx }) => {
        if (!ctx.state.session) return sessionBody(user, '');
        return sessionBody(user, ctx.state.session.csrfToken);
      },
    }),
    route({
      method: 'delete',
      path: '/sessions/current',
      operationId: 'DeleteCurrentSession',
      summary: 'Log out this session',
      tag: TAG,
      auth: 'required',
      success: { status: 204, description: 'Logged out' },
      // Logging out is not a content write: it stays possible during maintenance.
      freezable: false,
      handler: async ({ user, ctx }) => {
        if (ctx.state.session) await deps.sessions.destroy(ctx.state.session.id, user.id);
        deps.sessions.clearCookie(ctx);
      },
    }),
    route({
      method: 'delete',
      path: '/sessions',
      operationId: 'DeleteAllSessions',
      summary: 'Log out everywhere: ends every session and invalidates every token of the user',
      tag: TAG,
      auth: 'required',
      success: { status: 204, description: 'Logged out everywhere' },
      freezable: false,
      handler: async ({ user, ctx }) => {
        await revokeAll(ctx.state.em, deps.sessions, user);
        deps.sessions.clearCookie(ctx);
      },
    }),
  ];
}

/**
 * Ends all sessions and kills all tokens issued so far (also used when suspending a user). The
 * database instant decides (authentication refuses any token or session from before it); deleting
 * the session keys only tidies Redis, so a Redis outage does not fail the revocation.
 */
export async function revokeAll(
  em: EntityManager,
  sessions: Sessions,
  user: Parameters<typeof toUserDto>[0],
): Promise<void> {
  user.tokensValidAfter = new Date();
  await em.flush();
  await sessions.destroyAll(user.id).catch((err: unknown) => {
    // The keys expire on their own (idle timeout); they can no longer authenticate anyone.
    if (!(err instanceof RedisUnavailableError)) throw err;
  });
}
