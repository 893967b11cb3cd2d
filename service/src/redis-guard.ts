import { ServiceUnavailableError } from './errors.js';
import type { Logger } from './logger.js';
import type { Redis } from './redis.js';

/**
 * Redis failed a command: it timed out, the connection is down, or the circuit is open. It is a
 * 503 with `Retry-After` wherever it reaches the error handler; callers that can do without Redis
 * catch it and fall back instead.
 */
export class RedisUnavailableError extends ServiceUnavailableError {
  constructor(
    /** The field the error body names: what could not be reached (`session`, `queues`, …). */
    what: string,
    retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super(what, `store is unavailable; retry in ${retryAfterSeconds} s`, retryAfterSeconds);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

export interface RedisGuardOptions {
  /**
   * A command still unanswered after this long fails and its caller moves on. Redis answers in
   * about a millisecond, so only a hung server or network gets near it.
   * @default 250
   */
  commandTimeoutMs?: number;
  /** Consecutive failures that open the circuit. @default 3 */
  failureThreshold?: number;
  /**
   * How long an open circuit fails commands at once, before one trial command is let through
   * (a new connection closes the circuit at once).
   * @default 2000
   */
  openMs?: number;
}

class CommandTimeout extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
  }
}

/**
 * Rejects when `promise` has not settled `ms` after the call. The verdict waits for the event
 * loop's next I/O phase (setImmediate after the timer), so a reply that arrived while the loop
 * was busy still wins: a slow process does not mistake its own lag for a hung Redis.
 */
function deadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(
      () => setImmediate(() => settle(() => reject(new CommandTimeout(ms)))),
      ms,
    );
    promise.then(
      (value) => settle(() => resolve(value)),
      (err: unknown) => settle(() => reject(err)),
    );
  });
}

/**
 * The one guard for Redis calls on the request path: every command gets a short timeout, and a
 * circuit breaker stops sending commands to a Redis that keeps failing, so a hung or dead Redis
 * costs a request milliseconds, not the request timeout.
 *
 * - `run(what, cmd)` for calls that need Redis (sessions, OIDC state, queue counts): it rejects
 *   with {@link RedisUnavailableError} (503 + `Retry-After`) when Redis cannot answer.
 * - `orElse(cmd, fallback)` for calls that can do without it (cache reads and writes, fail open).
 *
 * One guard per client: the cache client gets its own. Transitions are logged once per outage.
 */
export class RedisGuard {
  private readonly timeoutMs: number;
  private readonly threshold: number;
  private readonly openMs: number;
  private state: 'closed' | 'open' | 'half-open' = 'closed';
  private failures = 0;
  private openedAt = 0;
  private readonly listeners: { available: (() => void)[]; unavailable: (() => void)[] } = {
    available: [],
    unavailable: [],
  };

  constructor(
    readonly redis: Redis,
    private readonly logger: Logger,
    options: RedisGuardOptions = {},
  ) {
    this.timeoutMs = options.commandTimeoutMs ?? 250;
    this.threshold = options.failureThreshold ?? 3;
    this.openMs = options.openMs ?? 2000;
    // A fresh connection is evidence that Redis is back: no need to wait for a trial command.
    redis.on('ready', () => {
      if (this.state !== 'closed') this.close();
    });
  }

  /** Runs `command` within the timeout, or rejects with RedisUnavailableError naming `what`. */
  async run<T>(what: string, command: (redis: Redis) => Promise<T>): Promise<T> {
    if (!this.admit()) throw new RedisUnavailableError(what, this.retryAfterSeconds());
    try {
      const result = await deadline(command(this.redis), this.timeoutMs);
      if (this.state !== 'closed') this.close();
      this.failures = 0;
      return result;
    } catch (err) {
      this.failed(err);
      throw new RedisUnavailableError(what, this.retryAfterSeconds(), { cause: err });
    }
  }

  /** Runs `command`, or answers `fallback` when Redis cannot (fail open). */
  async orElse<T>(command: (redis: Redis) => Promise<T>, fallback: T): Promise<T> {
    try {
      return await this.run('redis', command);
    } catch {
      return fallback;
    }
  }

  /** Called once when Redis becomes unavailable and once when it answers again. */
  on(event: 'available' | 'unavailable', listener: () => void): void {
    this.listeners[event].push(listener);
  }

  /** Whole seconds until the next trial command (at least 1): the `Retry-After` to advertise. */
  retryAfterSeconds(): number {
    const remaining = this.state === 'open' ? this.openedAt + this.openMs - Date.now() : 0;
    return Math.max(1, Math.ceil(remaining / 1000));
  }

  private admit(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open' && Date.now() - this.openedAt >= this.openMs) {
      this.state = 'half-open';
      return true;
    }
    return false;
  }

  private failed(err: unknown): void {
    if (this.state === 'half-open') {
      this.state = 'open';
      this.openedAt = Date.now();
      return;
    }
    this.failures += 1;
    if (this.state === 'closed' && this.failures >= this.threshold) {
      this.state = 'open';
      this.openedAt = Date.now();
      this.logger.warn(
        { err: (err as Error).message, failures: this.failures, openMs: this.openMs },
        'Redis unavailable: commands fail fast (circuit open), one trial every openMs',
      );
      for (const listener of this.listeners.unavailable) listener();
    }
  }

  private close(): void {
    this.state = 'closed';
    this.failures = 0;
    this.logger.info('Redis answers again (circuit closed)');
    for (const listener of this.listeners.available) listener();
  }
}
