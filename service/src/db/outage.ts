import type { MikroORM } from '@mikro-orm/postgresql';
import { ServiceUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';

/** Socket-level failures: the database cannot be reached or dropped the connection. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);
/** SQLSTATEs of a server going away or refusing connections (class 08: connection exception). */
const SERVER_CODES = new Set(['57P01', '57P02', '57P03', '53300']);
/** What pg and pg-pool say when a connection ends or cannot be had in time (they set no code). */
const DRIVER_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Connection ended unexpectedly|Client has encountered a connection error/;

/**
 * Whether `err` (or an error it wraps) means the database is unreachable, rather than that a
 * query or its data was wrong.
 */
export function isConnectionFailure(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth += 1) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string') {
      if (NETWORK_CODES.has(code) || SERVER_CODES.has(code) || code.startsWith('08')) return true;
    }
    if (typeof message === 'string' && DRIVER_MESSAGES.test(message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export interface DatabaseOutageOptions {
  /** `Retry-After` on the 503s. @default 5 */
  retryAfterSeconds?: number;
  /** How often an ongoing outage logs its count of refused requests and probes the database. @default 10000 */
  reportEveryMs?: number;
}

/**
 * Turns a failure to reach the database into a 503 with `Retry-After` instead of a 500 with a
 * stack trace, for any entry point. An outage is logged once when it starts, then as one count
 * line per `reportEveryMs`, and once when a probe finds the database back. Requests are never
 * held back: the first one after the database returns is served normally.
 */
export class DatabaseOutages {
  private readonly retryAfterSeconds: number;
  private readonly everyMs: number;
  private outage: { since: number; refused: number; sinceReport: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;

  constructor(
    private readonly orm: MikroORM,
    private readonly logger: Logger,
    options: DatabaseOutageOptions = {},
  ) {
    this.retryAfterSeconds = options.retryAfterSeconds ?? 5;
    this.everyMs = options.reportEveryMs ?? 10_000;
  }

  /** The 503 to answer instead of `err` when it means the database is unreachable; else undefined. */
  refusal(err: unknown): ServiceUnavailableError | undefined {
    if (!isConnectionFailure(err)) return undefined;
    if (!this.outage) {
      this.outage = { since: Date.now(), refused: 0, sinceReport: 0 };
      this.logger.error(
        { err: (err as Error).message },
        'database unavailable: answering 503 until it is back',
      );
      this.timer = setInterval(() => void this.report(), this.everyMs);
      this.timer.unref();
    }
    this.outage.refused += 1;
    this.outage.sinceReport += 1;
    return new ServiceUnavailableError(
      'database',
      `is unavailable; retry in ${this.retryAfterSeconds} s`,
      this.retryAfterSeconds,
    );
  }

  private async report(): Promise<void> {
    const outage = this.outage;
    if (!outage || this.probing) return;
    if (outage.sinceReport > 0) {
      this.logger.warn({ refusedRequests: outage.sinceReport }, 'database still unavailable');
      outage.sinceReport = 0;
    }
    this.probing = true;
    try {
      await this.orm.em.getConnection().execute('select 1');
      this.logger.info(
        { outageMs: Date.now() - outage.since, refusedRequests: outage.refused },
        'database reachable again',
      );
      this.outage = undefined;
      clearInterval(this.timer);
    } catch {
      // Still down; the next interval reports and probes again.
    } finally {
      this.probing = false;
    }
  }
}
