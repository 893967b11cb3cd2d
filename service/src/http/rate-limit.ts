import type { Middleware } from 'koa';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type IRateLimiterOptions,
} from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { LoginUserRequest } from '../modules/users/users.schemas.js';
import type { Redis } from '../redis.js';
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

export interface RateLimitDeps {
  config: Pick<
    Config,
    | 'RATE_LIMIT_ENABLED'
    | 'RATE_LIMIT_PER_MINUTE'
    | 'RATE_LIMIT_AUTH_PER_MINUTE'
    | 'RATE_LIMIT_LOGIN_PER_ACCOUNT'
    | 'REDIS_KEY_PREFIX'
  >;
  /** The app's client; counters live in Redis so every task shares them. */
  redis: Redis;
  logger: Logger;
}

export interface RateLimits {
  /** Per client IP, before the body is read. Health endpoints are exempt. */
  perIp: Middleware<AppState>;
  /** Per account on login, after the body parser (the account is in the body). */
  perAccount: Middleware<AppState>;
}

/**
 * Warns once when Redis fails and the in-process insurance limiters take over, and notes the
 * return to Redis, so an outage is one log line rather than one per request.
 */
class Outage {
  private down = false;

  constructor(
    redis: Redis,
    private readonly logger: Logger,
  ) {
    redis.on('ready', () => {
      if (this.down) this.logger.info('rate limiting is back on Redis');
      this.down = false;
    });
  }

  fellBack(): void {
    if (this.down) return;
    this.down = true;
    this.logger.warn(
      'Redis unavailable: rate limits now count per process until it returns (see docs/security.md)',
    );
  }
}

/** A memory limiter that reports being used: RateLimiterRedis calls it only when Redis failed. */
class InsuranceLimiter extends RateLimiterMemory {
  constructor(
    opts: IRateLimiterOptions,
    private readonly outage: Outage,
  ) {
    super(opts);
  }

  override consume(...args: Parameters<RateLimiterMemory['consume']>) {
    this.outage.fellBack();
    return super.consume(...args);
  }

  override penalty(...args: Parameters<RateLimiterMemory['penalty']>) {
    this.outage.fellBack();
    return super.penalty(...args);
  }

  override get(...args: Parameters<RateLimiterMemory['get']>) {
    this.outage.fellBack();
    return super.get(...args);
  }

  override delete(...args: Parameters<RateLimiterMemory['delete']>) {
    this.outage.fellBack();
    return super.delete(...args);
  }
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
export function rateLimits({ config, redis, logger }: RateLimitDeps): RateLimits {
  const pass: Middleware<AppState> = (_ctx, next) => next();
  if (!config.RATE_LIMIT_ENABLED) return { perIp: pass, perAccount: pass };

  const outage = new Outage(redis, logger);
  const limiter = (name: string, points: number, duration: number) =>
    new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${config.REDIS_KEY_PREFIX}rl:${name}`,
      points,
      duration,
      // Straight to the insurance limiter while disconnected, instead of a failing round trip.
      rejectIfRedisNotReady: true,
      insuranceLimiter: new InsuranceLimiter({ points, duration }, outage),
    });
  const everything = limiter('ip', config.RATE_LIMIT_PER_MINUTE, 60);
  const auth = limiter('auth', config.RATE_LIMIT_AUTH_PER_MINUTE, 60);
  const failedLogins = limiter('login', config.RATE_LIMIT_LOGIN_PER_ACCOUNT, LOGIN_WINDOW_SECONDS);

  /** Consumes a point, or throws 429 when none is left. */
  async function take(rl: RateLimiterRedis, key: string): Promise<RateLimiterRes> {
    try {
      return await rl.consume(key);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes)
        throw tooManyRequests(rejection.msBeforeNext, rl.points);
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
    const failures = await failedLogins.get(account);
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
      if (status === 401) await failedLogins.penalty(account);
      else if (status < 300) await failedLogins.delete(account);
    }
  };

  return { perIp, perAccount };
}
