import type { Middleware } from 'koa';
import type { Config } from '../config.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import { QUEUE_NAMES } from '../jobs/contracts.js';
import { createQueue, type Queue, type QueueConfig } from '../jobs/queue.js';
import type { Logger } from '../logger.js';
import type { AppState } from './state.js';

/** Where Bull Board is served: admins only. */
export const BOARD_PATH = '/api/admin/board';

export function isBoardPath(path: string): boolean {
  return path === BOARD_PATH || path.startsWith(`${BOARD_PATH}/`);
}

/**
 * Bull Board (`@bull-board/koa`) over every queue. Loaded and built on its first request, so an
 * API process whose admins never open it neither loads its modules (start-up time) nor holds
 * extra Redis connections; `close()` closes them.
 */
export interface QueueBoard {
  /** Serves the board; the caller has authorized the request. */
  serve: Middleware<AppState>;
  close(): Promise<void>;
}

export function createQueueBoard(
  config: QueueConfig & Pick<Config, 'REDIS_URL'>,
  logger: Logger,
): QueueBoard {
  let queues: Queue[] | undefined;
  let mounted: Promise<Middleware> | undefined;
  const build = async () => {
    const [{ createBullBoard }, { BullAdapter }, { KoaAdapter }] = await Promise.all([
      import('@bull-board/api'),
      import('@bull-board/api/bullAdapter'),
      import('@bull-board/koa'),
    ]);
    queues = QUEUE_NAMES.map((name) => createQueue(name, config, logger));
    const adapter = new KoaAdapter();
    adapter.setBasePath(BOARD_PATH);
    createBullBoard({
      queues: queues.map((queue) => new BullAdapter(queue)),
      serverAdapter: adapter,
      options: { uiConfig: { boardTitle: 'Plinth queues' } },
    });
    return adapter.registerPlugin() as unknown as Middleware;
  };
  return {
    serve: async (ctx, next) => {
      mounted ??= build().catch((err: unknown) => {
        mounted = undefined;
        throw err;
      });
      return (await mounted)(ctx, next);
    },
    async close() {
      await Promise.all((queues ?? []).map((queue) => queue.close()));
    },
  };
}

/**
 * The board behind the admin API's checks: the same authentication (token or session cookie;
 * a cookie's unsafe requests must be same-origin, since the board's scripts cannot send our CSRF
 * header) and the same ability (`manage Admin`): 401 without a user, 403 for anyone else.
 */
export function queueBoardRoute(
  board: QueueBoard,
  authenticate: Middleware<AppState>,
  withActor: Middleware<AppState>,
): Middleware<AppState> {
  return async (ctx, next) => {
    if (!isBoardPath(ctx.path)) return next();
    await authenticate(ctx, async () => {
      await withActor(ctx, async () => {
        if (!ctx.state.user) throw new UnauthorizedError();
        if (!ctx.state.actor?.ability.can('manage', 'Admin')) {
          throw new ForbiddenError('only admins may use the queue board', 'admin');
        }
        await board.serve(ctx, next);
      });
    });
  };
}
