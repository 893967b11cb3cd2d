import type { Middleware } from 'koa';
import type { LimitClass, RateLimits } from '../rate-limits.js';
import type { AppContext, AppState } from './state.js';

/**
 * Per client IP, before the body is read: every request spends the general budget, and a request
 * for an operation of class `auth` or `login` (`RouteDef.rateLimit`, looked up by `classOf`) the
 * auth budget too. `RateLimit-*` headers describe the tightest budget spent. Health endpoints are
 * exempt.
 */
export function perIpRateLimits(
  limits: RateLimits,
  classOf: (ctx: AppContext) => LimitClass | undefined,
): Middleware<AppState> {
  if (!limits.enabled) return (_ctx, next) => next();
  return async (ctx, next) => {
    if (ctx.path.startsWith('/health/')) return next();
    const general = await limits.consume('ip', ctx.ip);
    const tightest = classOf(ctx as AppContext) ? await limits.consume('auth', ctx.ip) : general;
    if (tightest) {
      ctx.set({
        'RateLimit-Limit': String(tightest.limit),
        'RateLimit-Remaining': String(tightest.remaining),
        'RateLimit-Reset': String(tightest.resetSeconds),
      });
    }
    await next();
  };
}

/**
 * For a `login`-class route: failed logins counted per account, the account being the one named
 * by the request's credentials (`body.user.email`, normalised by the route's own body schema).
 * Requests whose credentials do not validate are left to the route's validation (422) uncounted.
 */
export function failedLoginLimit(
  limits: RateLimits,
  account: (ctx: AppContext) => string | undefined,
): Middleware<AppState> {
  return async (ctx, next) => {
    const key = account(ctx as AppContext);
    if (!key) return next();
    await limits.login(key, next);
  };
}
