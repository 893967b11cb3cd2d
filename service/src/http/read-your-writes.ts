import type { Middleware } from 'koa';
import type { ReplicaRouter } from '../db/replica-router.js';
import type { Tokens } from '../modules/users/tokens.js';
import type { AppContext, AppState } from './state.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The user a response just issued a token to (registration, login): their next request is
 * signed in, so an anonymous request that created them must still record their floor.
 */
async function issuedTo(ctx: AppContext, tokens: Tokens): Promise<number | undefined> {
  const token = (ctx.body as { user?: { token?: unknown } } | undefined)?.user?.token;
  if (typeof token !== 'string' || token === '') return undefined;
  return (await tokens.verify(token))?.userId;
}

/**
 * Read-your-writes at the request level (docs/read-replicas.md): a request that may write reads
 * only from the primary, and once it is done — before its response goes out — the signed-in
 * user's floor (or that of the user it just issued a token to) is raised to the primary's WAL
 * position, so their next read on any API task finds a replica that has replayed their writes,
 * or the primary. Mounted after the request's EntityManager exists.
 */
export function readYourWrites(router: ReplicaRouter, tokens: Tokens): Middleware<AppState> {
  return async (ctx, next) => {
    if (SAFE_METHODS.has(ctx.method)) return next();
    router.pinToPrimary(ctx.state.em);
    try {
      await next();
    } finally {
      // Also after an error: the request may have committed before it failed.
      const userId = ctx.state.user?.id ?? (await issuedTo(ctx, tokens));
      if (userId !== undefined) await router.recordWrite(userId);
    }
  };
}
