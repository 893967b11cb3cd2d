import type { Middleware } from 'koa';
import { sameSecret } from '../crypto.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import type { Maintenance } from '../modules/admin/maintenance.js';
import { actorFor } from '../modules/auth/actor.js';
import type { Sessions } from '../modules/auth/sessions.js';
import type { Tokens } from '../modules/users/tokens.js';
import { User } from '../modules/users/user.entity.js';
import type { AuthMode } from './routes.js';
import type { AppContext, AppState } from './state.js';

const SCHEME = /^(?:Token|Bearer) ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
export const CSRF_HEADER = 'X-CSRF-Token';

/** Loads the user behind a credential; suspended users are treated as unauthenticated. */
async function activeUser(ctx: AppContext, userId: number): Promise<User | undefined> {
  const user = await ctx.state.em.findOne(User, userId);
  if (!user) return undefined;
  if (user.suspendedAt) throw new UnauthorizedError('is suspended', 'account');
  return user;
}

async function fromToken(ctx: AppContext, tokens: Tokens, header: string): Promise<void> {
  const match = SCHEME.exec(header.trim());
  if (!match) throw new UnauthorizedError('must be "Token <jwt>"', 'authorization');
  const token = match[1]!;
  const claims = await tokens.verify(token);
  const user = claims && (await activeUser(ctx, claims.userId));
  // Tokens issued before "log out everywhere" (or a suspension) are dead.
  const revoked = user?.tokensValidAfter && claims!.issuedAtMs < user.tokensValidAfter.getTime();
  if (!user || revoked) throw new UnauthorizedError('is invalid or expired');
  ctx.state.user = user;
  ctx.state.token = token;
  ctx.state.authMethod = 'token';
}

/**
 * What a cookie-authenticated request must show to prove it came from us: `token` echoes the
 * session's CSRF token (our API clients); `same-origin` accepts the browser's own
 * `Sec-Fetch-Site: same-origin` (a page served by this origin, such as the queue board, whose
 * scripts cannot send our header; a cross-site page cannot forge that header); `none` for
 * requests that change nothing.
 */
export type CsrfProof = 'token' | 'same-origin' | 'none';

/** Which proof a request needs. REST: the token for unsafe methods; GraphQL: for mutations. */
export type CsrfRule = (ctx: AppContext) => CsrfProof;

const unsafeMethods: CsrfRule = (ctx) => (SAFE_METHODS.has(ctx.method) ? 'none' : 'token');

/** The queue board's rule: unsafe methods need `Sec-Fetch-Site: same-origin`. */
export const sameOriginChanges: CsrfRule = (ctx) =>
  SAFE_METHODS.has(ctx.method) ? 'none' : 'same-origin';

async function fromSession(
  ctx: AppContext,
  sessions: Sessions,
  id: string,
  csrf: CsrfRule,
): Promise<void> {
  // A store that cannot answer is a 503 (RedisUnavailableError), never "unknown session": the
  // cookie must survive a Redis outage.
  const session = await sessions.get(id);
  const user = session && (await activeUser(ctx, session.userId));
  // "Log out everywhere" and suspension are decided in the database, so they hold even when the
  // session keys could not be deleted from Redis at that moment.
  const revoked = user?.tokensValidAfter && session!.createdAt < user.tokensValidAfter.getTime();
  if (!session || !user || revoked) {
    ctx.state.cookies.clearSession(ctx);
    throw new UnauthorizedError('has expired or is invalid', 'session');
  }
  // A cookie rides along with cross-site requests; an unsafe one must prove it came from our
  // own front end by echoing the session's CSRF token (synchronizer token pattern).
  const proof = csrf(ctx);
  if (proof === 'same-origin') {
    if (ctx.get('Sec-Fetch-Site') !== 'same-origin') {
      throw new ForbiddenError('must be same-origin for a cookie-authenticated change', 'origin');
    }
  } else if (proof === 'token') {
    const sent = ctx.get(CSRF_HEADER);
    if (!sent || !sameSecret(sent, session.csrfToken)) {
      throw new ForbiddenError(`is missing or wrong (send the ${CSRF_HEADER} header)`, 'csrf');
    }
  }
  ctx.state.user = user;
  ctx.state.authMethod = 'session';
  ctx.state.session = { id, csrfToken: session.csrfToken };
}

/**
 * Per-route authentication: an `Authorization: Token|Bearer <jwt>` header, else the session
 * cookie. A presented credential must be valid (401 otherwise) on every route that looks at the
 * user; `none` routes ignore credentials entirely. A cookie-authenticated request must carry the
 * session's CSRF token or show it is same-origin as its `csrf` rule says (REST: the token for
 * unsafe methods; GraphQL: for mutations; the queue board: same-origin).
 */
export function authenticator(
  tokens: Tokens,
  sessions: Sessions,
): (mode: AuthMode, csrf?: CsrfRule) => Middleware<AppState> {
  const skip: Middleware<AppState> = (_ctx, next) => next();
  const check =
    (csrf: CsrfRule): Middleware<AppState> =>
    async (ctx, next) => {
      const header = ctx.get('Authorization');
      const cookie = header ? undefined : ctx.state.cookies.sessionId(ctx);
      if (header) await fromToken(ctx, tokens, header);
      else if (cookie) await fromSession(ctx, sessions, cookie, csrf);
      await next();
    };
  const byMethod = check(unsafeMethods);
  return (mode, csrf) => (mode === 'none' ? skip : csrf ? check(csrf) : byMethod);
}

/**
 * After authentication: the request's actor (`ctx.state.actor`), the user and what they may do
 * right now (roles, ownership, the write freeze), which feature services are built with.
 */
export function actor(maintenance: Maintenance): Middleware<AppState> {
  return async (ctx, next) => {
    ctx.state.actor = await actorFor(
      ctx.state.em,
      maintenance,
      ctx.state.user,
      ctx.state.requestId,
    );
    await next();
  };
}
