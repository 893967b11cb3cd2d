import { z } from 'zod';
import { CSRF_HEADER } from '../../http/auth.js';
import { route, type RouteDef } from '../../http/routes.js';
import { LoginUserRequest, UserSchema } from '../users/users.schemas.js';

const TAG = 'Sessions';

const SessionResponse = z
  .object({
    user: UserSchema.omit({ token: true }),
    csrfToken: z.string().meta({ description: `Send as ${CSRF_HEADER} on POST/PUT/DELETE` }),
  })
  .meta({ id: 'SessionResponse' });

/**
 * Cookie sessions for browser front ends (the RealWorld token flow stays as it is): log in,
 * read the current session, log out, log out everywhere.
 */
export const authRoutes: RouteDef[] = [
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
    rateLimit: 'login',
    handler: async ({ body, services, ctx }) => {
      // Any session the browser had is dropped: a login always gets a new id (no fixation).
      const { id, session } = await services.sessions.login(
        body.user,
        ctx.state.cookies.sessionId(ctx),
      );
      ctx.state.cookies.setSession(ctx, id);
      return session;
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
    handler: async ({ services, ctx }) =>
      services.sessions.current(ctx.state.session?.csrfToken ?? ''),
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
    handler: async ({ services, ctx }) => {
      if (ctx.state.session) await services.sessions.end(ctx.state.session.id);
      ctx.state.cookies.clearSession(ctx);
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
    handler: async ({ services, ctx }) => {
      await services.sessions.revokeAll();
      ctx.state.cookies.clearSession(ctx);
    },
  }),
];
