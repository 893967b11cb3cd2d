import type { Middleware } from 'koa';
import { missingReference } from '../db/errors.js';
import { AppError, type ErrorBody } from '../errors.js';
import type { AppState } from './state.js';

interface HttpLikeError {
  status?: number;
  statusCode?: number;
  expose?: boolean;
  type?: string;
  headers?: Record<string, string>;
  message?: string;
}

/** Errors raised by Koa and its body parser (http-errors), mapped to our vocabulary. */
function fromHttpError(err: HttpLikeError): { status: number; errors: ErrorBody } | undefined {
  const status = err.status ?? err.statusCode;
  if (!status || status < 400 || status >= 500) return undefined;
  if (status === 413) return { status, errors: { body: ['is too large'] } };
  if (status === 400 && (err.type === 'entity.parse.failed' || /JSON/i.test(err.message ?? ''))) {
    return { status, errors: { body: ['is not valid JSON'] } };
  }
  if (status === 415) {
    // inflation refuses an unknown Content-Encoding (br, gzip and deflate are undone).
    const encoding = /Content-Encoding/i.test(err.message ?? '');
    return {
      status,
      errors: {
        body: [encoding ? 'has an unsupported Content-Encoding' : 'must be application/json'],
      },
    };
  }
  if (status === 405) return { status, errors: { method: [err.message ?? 'not allowed'] } };
  return { status, errors: { request: [err.expose && err.message ? err.message : 'is invalid'] } };
}

/**
 * The single place errors become responses: domain errors and client errors keep their status
 * and RealWorld body; anything else is a bug, logged with its stack and answered with a bare 500
 * that carries only the request id.
 */
export function errorHandler(): Middleware<AppState> {
  return async (ctx, next) => {
    try {
      await next();
      // Responses the router produced without a body (no route, wrong method) get ours.
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404) {
          ctx.status = 404;
          ctx.body = { errors: { route: [`${ctx.method} ${ctx.path} does not exist`] } };
        } else if (ctx.status === 405 || ctx.status === 501) {
          const status = ctx.status;
          ctx.body = { errors: { method: [`${ctx.method} is not allowed here`] } };
          ctx.status = status;
        }
      }
    } catch (err) {
      const requestId = ctx.state.requestId;
      if (err instanceof AppError) {
        ctx.status = err.status;
        ctx.set(err.headers);
        ctx.body = { errors: err.errors, requestId };
        return;
      }
      // A row this request pointed at was deleted by a concurrent request between our read and
      // our write: the target no longer exists.
      const missing = missingReference(err);
      if (missing) {
        ctx.status = 404;
        ctx.body = { errors: { [missing]: ['not found'] }, requestId };
        return;
      }
      const mapped = fromHttpError(err as HttpLikeError);
      if (mapped) {
        ctx.status = mapped.status;
        const headers = (err as HttpLikeError).headers;
        if (headers) ctx.set(headers);
        ctx.body = { errors: mapped.errors, requestId };
        return;
      }
      ctx.state.log.error({ err }, 'unhandled error');
      ctx.status = 500;
      ctx.body = { errors: { server: ['internal error'] }, requestId };
    }
  };
}
