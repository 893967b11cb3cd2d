import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { safeUrl, type Logger } from '../logger.js';
import type { AppState } from './state.js';

const INCOMING_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * First middleware: assigns the request id (reusing a well-formed incoming X-Request-Id), gives
 * the request a child logger that stamps it on every line, and writes one access-log line.
 */
export function requestContext(logger: Logger): Middleware<AppState> {
  return async (ctx, next) => {
    const incoming = ctx.get('X-Request-Id');
    const requestId = INCOMING_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.state.log = logger.child({ requestId });
    ctx.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const status = ctx.status;
      const line = {
        method: ctx.method,
        url: safeUrl(ctx.originalUrl),
        status,
        durationMs: Math.round(ms * 10) / 10,
        ip: ctx.ip,
        userId: ctx.state.user?.id,
        userAgent: ctx.get('User-Agent') || undefined,
      };
      if (status >= 500) ctx.state.log.error(line, 'request failed');
      else ctx.state.log.info(line, 'request');
    }
  };
}
