import type { Middleware } from 'koa';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { LoginUserRequest } from '../modules/users/users.schemas.js';
import { RedisUnavailableError, type RedisGuard } from '../redis-guard.js';
import type { AppState } from './state.js';

/** Login, registration and password changes: where guessing and sign-up abuse happen. */
const AUTH_ROUTES = new Set([
  'POST /api/users',
  'POST /api/users/login',
  'POST /api/sessions',
  'PUT /api/user',
]);
const LOGIN_ROUTES = new Set(['POST /api/users/login', 'POST /api/sessions']);
const LOGIN_WINDOW_SECONDS = 15 * 60;

/** One limit: counted in Redis, or per process with the same settings while Redis is down. */
interface Limiter {
  points: number;
  redis: RateLimiterRedis;
  memory: RateLimiterMemory;
}

export interface RateLimitDeps {
  config: Pick<
    Config,
    | 'RATE_LIMIT_ENABLED'
    | 'RATE_LIMIT_PER_MINUTE'
    | 'RATE_LIMIT_AUTH_PER_MINUTE'
    | 'RATE_LIMIT_LOGIN_PER_ACCOUNT'
    | 'REDIS_KEY_PREFIX'
  >;
  /** The app's guarded client; counters live in Redis so every task shares them. */
  guard: RedisGuard;
  logger: Logger;
}

export interface RateLimits {
  /** Per client IP, before the body is read. Health endpoints are exempt. */
  perIp: Middleware<AppState>;
  /** Per account on login, after the body parser (the account is in the body). */
  perAccount: Middleware<AppState>;
}

function tooManyRequests(msBeforeNext: number, limit: number): AppError {
  const seconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  return new AppError(
    429,
    { rate: [`too many requests, retry in ${seconds} s`] },
    {
      'Retry-After': String(seconds),
      'RateLimit-Limit': String(limit),
      'RateLimit-Remaining': '0',
      'RateLimit-Reset': String(seconds),
    },
  );
}

/** Route key without a trailing slash, as the router matches it. */
function routeKey(method: string, path: string): string {
  return `${method} ${path.length > 1 ? path.replace(/\/+$/, '') : path}`;
}

/**
 * Redis-backed rate limits (rate-limiter-flexible): every request per client IP, the auth
 * routes more strictly per IP, and failed logins per account. A 429 carries `Retry-After`.
 */
export function rateLimits({ config, guard, logger }: RateLimitDeps): RateLimits {
  const pass: Middleware<AppState> = (_ctx, next) => next();
  if (!config.RATE_LIMIT_ENABLED) return { perIp: pass, perAccount: pass };

  // One warning when the first count falls back to the process, one line when Redis is back.
  let fellBack = false;
  guard.on('available', () => {
    if (fellBack) logger.info('rate limiting is back on Redis');
    fellBack = false;
  });
  const limiter = (name: string, points: number, duration: number): Limiter => ({
    points,
    redis: new RateLimiterRedis({
      storeClient: guard.redis,
      keyPrefix: `${config.REDIS_KEY_PREFIX}rl:${name}`,
      points,
      duration,
      // Fail at once while disconnected, instead of a doomed round trip.
      rejectIfRedisNotReady: true,
    }),
    memory: new RateLimiterMemory({ points, duration }),
  });
  const everything = limiter('ip', config.RATE_LIMIT_PER_MINUTE, 60);
  const auth = limiter('auth', config.RATE_LIMIT_AUTH_PER_MINUTE, 60);
  const failedLogins = limiter('login', config.RATE_LIMIT_LOGIN_PER_ACCOUNT, LOGIN_WINDOW_SECONDS);

  /**
   * Runs one limiter operation on Redis through the guard (timeout, circuit breaker), or on the
   * in-process limiter with the same settings when Redis cannot answer. A limiter's "no points
   * left" rejection is an answer, not a failure, so it travels as a value through the guard.
   */
  async function use<T>(
    l: Limiter,
    op: (rl: RateLimiterRedis | RateLimiterMemory) => Promise<T>,
  ): Promise<T> {
    const settle = (p: Promise<T>) =>
      p.then(
        (value) => ({ value }),
        (rejection: unknown) => {
          if (rejection instanceof RateLimiterRes) return { rejection };
          throw rejection;
        },
      );
    let outcome: { value: T } | { rejection: RateLimiterRes };
    try {
      outcome = await guard.run('rate', () => settle(op(l.redis)));
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) throw err;
      if (!fellBack) {
        fellBack = true;
        logger.warn(
          'Redis unavailable: rate limits now count per process until it returns (see docs/security.md)',
        );
      }
      outcome = await settle(op(l.memory));
    }
    if ('rejection' in outcome) throw outcome.rejection;
    return outcome.value;
  }

  /** Consumes a point, or throws 429 when none is left. */
  async function take(l: Limiter, key: string): Promise<RateLimiterRes> {
    try {
      return await use(l, (rl) => rl.consume(key));
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes)
        throw tooManyRequests(rejection.msBeforeNext, l.points);
      throw rejection;
    }
  }

  const perIp: Middleware<AppState> = async (ctx, next) => {
    if (ctx.path.startsWith('/health/')) return next();
    const general = await take(everything, ctx.ip);
    const tightest = AUTH_ROUTES.has(routeKey(ctx.method, ctx.path))
      ? { res: await take(auth, ctx.ip), limit: auth.points }
      : { res: general, limit: everything.points };
    ctx.set({
      'RateLimit-Limit': String(tightest.limit),
      'RateLimit-Remaining': String(tightest.res.remainingPoints),
      'RateLimit-Reset': String(Math.ceil(tightest.res.msBeforeNext / 1000)),
    });
    await next();
  };

  const perAccount: Middleware<AppState> = async (ctx, next) => {
    if (!LOGIN_ROUTES.has(routeKey(ctx.method, ctx.path))) return next();
    // Same normalisation as the login itself, so `Ann@x.io ` and `ann@x.io` are one account.
    const login = LoginUserRequest.safeParse(ctx.request.body);
    if (!login.success) return next();
    const account = login.data.user.email;
    const failures = await use(failedLogins, (rl) => rl.get(account));
    if (failures && failures.consumedPoints >= failedLogins.points) {
      throw tooManyRequests(failures.msBeforeNext, failedLogins.points);
    }
    let status = 500;
    try {
      await next();
      status = ctx.status;
    } catch (err) {
      status = (err as { status?: number }).status ?? 500;
      throw err;
    } finally {
      // Only wrong credentials count, so a user who mistypes then succeeds starts afresh.
      if (status === 401) await use(failedLogins, (rl) => rl.penalty(account));
      else if (status < 300) await use(failedLogins, (rl) => rl.delete(account));
    }
  };

  return { perIp, perAccount };
}
