import Router from '@koa/router';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { AppState } from '../../http/state.js';
import type { Redis } from '../../redis.js';

export interface Lifecycle {
  /** Set on SIGTERM: readiness turns 503 so the load balancer stops sending new requests. */
  shuttingDown: boolean;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function probe(check: () => Promise<unknown>, timeoutMs: number): Promise<'up' | 'down'> {
  try {
    await withTimeout(check(), timeoutMs);
    return 'up';
  } catch {
    return 'down';
  }
}

/**
 * `/health/live`: the process is up. `/health/ready`: it can serve, i.e. the primary database
 * answers. Redis is reported but never fails readiness: the cache fails open, and a Redis blip
 * must not drain every target behind the load balancer.
 */
export function healthRouter(deps: { orm: MikroORM; redis: Redis; lifecycle: Lifecycle }) {
  const router = new Router<AppState>({ prefix: '/health' });
  router.get('/live', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/ready', async (ctx) => {
    const [database, redis] = await Promise.all([
      probe(() => deps.orm.em.getConnection().execute('select 1'), 2000),
      probe(() => deps.redis.ping(), 500),
    ]);
    const ready = database === 'up' && !deps.lifecycle.shuttingDown;
    ctx.status = ready ? 200 : 503;
    ctx.body = {
      status: ready ? 'ready' : deps.lifecycle.shuttingDown ? 'shutting down' : 'unavailable',
      checks: { database, redis },
    };
  });
  return router;
}
