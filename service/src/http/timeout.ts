import type { Middleware } from 'koa';
import type { AppContext, AppState } from './state.js';

/**
 * Keeps the 503 once it is decided: the abandoned handler runs on and may still assign a body or
 * status, which would otherwise replace the answer while upstream middleware is unwinding.
 */
function seal(ctx: AppContext): void {
  const { status, body } = ctx.response;
  Object.defineProperty(ctx.response, 'status', { get: () => status, set: () => undefined });
  Object.defineProperty(ctx.response, 'body', { get: () => body, set: () => undefined });
}

/**
 * Answers a request still running after `timeoutMs` with 503 and abandons it. The work itself is
 * not cancelled (a query or hash in flight finishes); its result is discarded and logged.
 *
 * Mount it where nothing upstream awaits I/O after `next()`: Koa then writes the 503 in the same
 * tick, before the abandoned handler can touch headers (a late `cookies.set` throws instead).
 */
export function requestTimeout(timeoutMs: number): Middleware<AppState> {
  return async (ctx, next) => {
    let timer: NodeJS.Timeout | undefined;
    const started = Date.now();
    const work = next();
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), timeoutMs);
    });
    try {
      if ((await Promise.race([work, expired])) !== 'expired') return;
    } finally {
      clearTimeout(timer);
    }
    ctx.status = 503;
    ctx.body = { errors: { request: ['timed out'] }, requestId: ctx.state.requestId };
    seal(ctx as AppContext);
    work.then(
      () => ctx.state.log.warn({ lateMs: Date.now() - started }, 'timed-out request finished'),
      (err: unknown) =>
        ctx.state.log.warn({ err, lateMs: Date.now() - started }, 'timed-out request failed'),
    );
  };
}
