import type { Middleware } from 'koa';
import type { ReplicaRouter } from '../db/replica-router.js';
import type { AppState } from './state.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Read-your-writes at the request level (docs/read-replicas.md): a request that may write reads
 * only from the primary, and once it is done — before its response goes out — the signed-in
 * user's floor is raised to the primary's WAL position, so their next read on any API task
 * finds a replica that has replayed their writes, or the primary. Mounted after the request's
 * EntityManager exists; the user is known once the route has authenticated.
 */
export function readYourWrites(router: ReplicaRouter): Middleware<AppState> {
  return async (ctx, next) => {
    if (SAFE_METHODS.has(ctx.method)) return next();
    router.pinToPrimary(ctx.state.em);
    try {
      await next();
    } finally {
      // Also after an error: the request may have committed before it failed.
      if (ctx.state.user) await router.recordWrite(ctx.state.user.id);
    }
  };
}
