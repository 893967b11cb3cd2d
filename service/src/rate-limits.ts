import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from './config.js';
import { TooManyRequestsError, UnauthorizedError } from './errors.js';
import type { Logger } from './logger.js';
import { RedisUnavailableError, type RedisGuard } from './redis-guard.js';
import { ReservedBudget } from './rate-reservations.js';

/**
 * What an operation spends beyond the per-IP budget every request pays:
 * - `auth`: the stricter per-IP budget of login, registration and password changes (guessing and
 *   sign-up abuse);
 * - `login`: `auth`, and failed logins are counted per account (credential stuffing spread over
 *   many addresses).
 */
export type LimitClass = 'auth' | 'login';

/** The per-IP budgets: `ip` is paid by every request, `auth` also by `auth`/`login` operations. */
export type IpBudget = 'ip' | 'auth';

/** Where a budget stands after a request spent a point of it (the `RateLimit-*` headers). */
export interface BudgetState {
  limit: number;
  remaining: number;
  /** Whole seconds until the budget is full again. */
  resetSeconds: number;
}

const LOGIN_WINDOW_SECONDS = 15 * 60;
const IP_WINDOW_SECONDS = 60;

/**
 * The largest batch a per-IP budget reserves from Redis: 1 % of the budget (so below 200 points
 * every request is counted in Redis one by one), at most 1000. See ReservedBudget for what it
 * costs in accuracy.
 */
export function maxBatchOf(points: number): number {
  return Math.max(1, Math.min(1000, Math.floor(points / 100)));
}

/** One limit: counted in Redis, or per process with the same settings while Redis is down. */
interface Limiter {
  points: number;
  redis: RateLimiterRedis;
  memory: RateLimiterMemory;
}

/** A per-IP budget: spent from batches reserved in Redis, per process while Redis is down. */
interface IpLimiter {
  points: number;
  reserved: ReservedBudget;
  memory: RateLimiterMemory;
}

export interface RateLimitsDeps {
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

const retryAfter = (msBeforeNext: number) => Math.max(1, Math.ceil(msBeforeNext / 1000));

/**
 * The rate limits of every entry point, with the same keys and budgets whichever calls them (a
 * REST route, a GraphQL mutation): per client IP (`consume`), and failed logins per account
 * (`login`, or `assertLoginAllowed` + `loginAttempt`). Counted in Redis through the Redis guard:
 * per-IP budgets spend points reserved in batches (ReservedBudget: no round trip per request,
 * within a documented accuracy), failed logins one by one (rate-limiter-flexible); while Redis
 * cannot answer, each limit counts per process with the same settings (logged once). A spent budget is a TooManyRequestsError: 429 with `Retry-After`.
 * `RATE_LIMIT_ENABLED=false` turns every method into a no-op.
 */
export class RateLimits {
  readonly enabled: boolean;
  private readonly limiters: { login: Limiter } | undefined;
  private readonly budgets: Record<IpBudget, IpLimiter> | undefined;
  private fellBack = false;

  constructor(private readonly deps: RateLimitsDeps) {
    const { config, guard, logger } = deps;
    this.enabled = config.RATE_LIMIT_ENABLED;
    if (!this.enabled) return;
    // One warning when the first count falls back to the process, one line when Redis is back.
    guard.on('available', () => {
      if (this.fellBack) logger.info('rate limiting is back on Redis');
      this.fellBack = false;
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
    const budget = (name: string, points: number): IpLimiter => ({
      points,
      reserved: new ReservedBudget(
        guard,
        `${config.REDIS_KEY_PREFIX}rl:${name}`,
        points,
        IP_WINDOW_SECONDS * 1000,
        maxBatchOf(points),
      ),
      memory: new RateLimiterMemory({ points, duration: IP_WINDOW_SECONDS }),
    });
    this.budgets = {
      ip: budget('ip', config.RATE_LIMIT_PER_MINUTE),
      auth: budget('auth', config.RATE_LIMIT_AUTH_PER_MINUTE),
    };
    // Failed logins stay counted in Redis one by one: few, and every one matters.
    this.limiters = {
      login: limiter('login', config.RATE_LIMIT_LOGIN_PER_ACCOUNT, LOGIN_WINDOW_SECONDS),
    };
  }

  /**
   * Spends one point of a per-IP budget for `ip`: where the budget stands, or a
   * TooManyRequestsError when it is spent (undefined when rate limiting is off). A GraphQL
   * document spends `auth` once per login/registration operation it contains, aliases included.
   */
  async consume(budget: IpBudget, ip: string): Promise<BudgetState | undefined> {
    const l = this.budgets?.[budget];
    if (!l) return undefined;
    let spent;
    try {
      spent = await l.reserved.spend(ip);
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) throw err;
      this.fallingBack();
      try {
        const res = await l.memory.consume(ip);
        spent = { point: res.consumedPoints, msBeforeNext: res.msBeforeNext };
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        spent = { refusedMs: rejection.msBeforeNext };
      }
    }
    if ('refusedMs' in spent) throw new TooManyRequestsError(retryAfter(spent.refusedMs), l.points);
    return {
      limit: l.points,
      remaining: Math.max(0, l.points - spent.point),
      resetSeconds: Math.ceil(spent.msBeforeNext / 1000),
    };
  }

  /** Throws TooManyRequestsError while `account` has no failed logins left, even for the right password. */
  async assertLoginAllowed(account: string): Promise<void> {
    const l = this.limiters?.login;
    if (!l) return;
    const failures = await this.use(l, (rl) => rl.get(account));
    if (failures && failures.consumedPoints >= l.points) {
      throw new TooManyRequestsError(retryAfter(failures.msBeforeNext), l.points);
    }
  }

  /**
   * Records how a login to `account` ended: a failure (wrong credentials) counts against it; a
   * success clears its count, so a user who mistypes then succeeds starts afresh.
   */
  async loginAttempt(account: string, outcome: 'failed' | 'succeeded'): Promise<void> {
    const l = this.limiters?.login;
    if (!l) return;
    if (outcome === 'failed') await this.use(l, (rl) => rl.penalty(account));
    else await this.use(l, (rl) => rl.delete(account));
  }

  /**
   * Runs one login attempt on `account` under its failed-login limit: refused with 429 while the
   * account is locked; a 401 from `attempt` counts as a failure, a result as a success, any other
   * error as neither. `account` must be normalised the way the login looks it up.
   *
   * The attempt reserves its failure before it runs (one atomic increment) and gives it back
   * unless it failed, so attempts running at the same time (a GraphQL batch, parallel requests)
   * cannot all pass the check before any of them is counted.
   */
  async login<T>(account: string, attempt: () => Promise<T>): Promise<T> {
    const l = this.limiters?.login;
    if (!l) return attempt();
    try {
      await this.use(l, (rl) => rl.consume(account));
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        throw new TooManyRequestsError(retryAfter(rejection.msBeforeNext), l.points);
      }
      throw rejection;
    }
    let result: T;
    try {
      result = await attempt();
    } catch (err) {
      if (!(err instanceof UnauthorizedError)) await this.use(l, (rl) => rl.reward(account, 1));
      throw err;
    }
    await this.loginAttempt(account, 'succeeded');
    return result;
  }

  /** Logs once that counting moved into the process. */
  private fallingBack(): void {
    if (this.fellBack) return;
    this.fellBack = true;
    this.deps.logger.warn(
      'Redis unavailable: rate limits now count per process until it returns (see docs/security.md)',
    );
  }

  /**
   * Runs one limiter operation on Redis through the guard (timeout, circuit breaker), or on the
   * in-process limiter with the same settings when Redis cannot answer. A limiter's "no points
   * left" rejection is an answer, not a failure, so it travels as a value through the guard.
   */
  private async use<T>(
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
      outcome = await this.deps.guard.run('rate', () => settle(op(l.redis)));
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) throw err;
      this.fallingBack();
      outcome = await settle(op(l.memory));
    }
    if ('rejection' in outcome) throw outcome.rejection;
    return outcome.value;
  }
}
