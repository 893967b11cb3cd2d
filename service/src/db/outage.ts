import type { MikroORM } from '@mikro-orm/postgresql';
import type { Middleware } from 'koa';
import { AppError } from '../errors.js';
import type { AppState } from '../http/state.js';
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
 * Answers a request that failed because the database is unreachable with 503 + `Retry-After`
 * instead of a 500 with a stack trace. An outage is logged once when it starts, then as one count
 * line per `reportEveryMs`, and once when a probe finds the database back. Requests are never held
 * back: the first one after the database returns is served normally.
 */
export function databaseOutages(
  orm: MikroORM,
  logger: Logger,
  options: DatabaseOutageOptions = {},
): Middleware<AppState> {
  const retryAfter = String(options.retryAfterSeconds ?? 5);
  const everyMs = options.reportEveryMs ?? 10_000;
  let outage: { since: number; refused: number; sinceReport: number } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let probing = false;

  const report = async () => {
    if (!outage || probing) return;
    if (outage.sinceReport > 0) {
      logger.warn({ refusedRequests: outage.sinceReport }, 'database still unavailable');
      outage.sinceReport = 0;
    }
    probing = true;
    try {
      await orm.em.getConnection().execute('select 1');
      logger.info(
        { outageMs: Date.now() - outage.since, refusedRequests: outage.refused },
        'database reachable again',
      );
      outage = undefined;
      clearInterval(timer);
    } catch {
      // Still down; the next interval reports and probes again.
    } finally {
      probing = false;
    }
  };

  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (!isConnectionFailure(err)) throw err;
      if (!outage) {
        outage = { since: Date.now(), refused: 0, sinceReport: 0 };
        logger.error(
          { err: (err as Error).message },
          'database unavailable: answering 503 until it is back',
        );
        timer = setInterval(() => void report(), everyMs);
        timer.unref();
      }
      outage.refused += 1;
      outage.sinceReport += 1;
      throw new AppError(
        503,
        { database: [`is unavailable; retry in ${retryAfter} s`] },
        { 'Retry-After': retryAfter },
      );
    }
  };
}
