import type { Middleware } from 'koa';
import { sameSecret } from '../crypto.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import type { Maintenance } from '../modules/admin/maintenance.js';
import { actorFor, type AuthUser } from '../modules/auth/actor.js';
import type { Sessions } from '../modules/auth/sessions.js';
import type { Tokens } from '../modules/users/tokens.js';
import type { Role } from '../modules/users/user.entity.js';
import type { AuthMode } from './routes.js';
import type { AppContext, AppState } from './state.js';

const SCHEME = /^(?:Token|Bearer) ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
export const CSRF_HEADER = 'X-CSRF-Token';

// The revocation instant as JavaScript's Date.getTime() has it (whole milliseconds).
const AUTH_USER_SQL =
  'select id, email, username, bio, image, role, suspended_at is not null as suspended, ' +
  'floor(extract(epoch from tokens_valid_after) * 1000)::float8 as valid_after_ms ' +
  'from users where id = ?';

interface AuthUserRow {
  id: number;
  email: string;
  username: string;
  bio: string;
  image: string;
  role: Role;
  suspended: boolean;
  valid_after_ms: number | null;
}

/**
 * Loads the user behind a credential (one statement on the primary, the request's unit of work,
 * no entity): the user and the instant before which its credentials are dead. Suspended users
 * are treated as unauthenticated.
 */
async function activeUser(
  ctx: AppContext,
  userId: number,
): Promise<{ user: AuthUser; validAfterMs: number | null } | undefined> {
  const rows = await ctx.state.em.execute<AuthUserRow[]>(AUTH_USER_SQL, [userId]);
  const row = rows[0];
  if (!row) return undefined;
  if (row.suspended) throw new UnauthorizedError('is suspended', 'account');
  const { id, email, username, bio, image, role } = row;
  return { user: { id, email, username, bio, image, role }, validAfterMs: row.valid_after_ms };
}

async function fromToken(ctx: AppContext, tokens: Tokens, header: string): Promise<void> {
  const match = SCHEME.exec(header.trim());
  if (!match) throw new UnauthorizedError('must be "Token <jwt>"', 'authorization');
  const token = match[1]!;
  const claims = await tokens.verify(token);
  const found = claims && (await activeUser(ctx, claims.userId));
  // Tokens issued before "log out everywhere" (or a suspension) are dead.
  const revoked = found?.validAfterMs != null && claims!.issuedAtMs < found.validAfterMs;
  if (!found || revoked) throw new UnauthorizedError('is invalid or expired');
  ctx.state.user = found.user;
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
  const found = session && (await activeUser(ctx, session.userId));
  // "Log out everywhere" and suspension are decided in the database, so they hold even when the
  // session keys could not be deleted from Redis at that moment.
  const revoked = found?.validAfterMs != null && session!.createdAt < found.validAfterMs;
  if (!session || !found || revoked) {
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
  ctx.state.user = found.user;
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
