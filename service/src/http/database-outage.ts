import type { Middleware } from 'koa';
import type { DatabaseOutages } from '../db/outage.js';
import type { AppState } from './state.js';

/** Answers a request that failed because the database is unreachable with 503 + `Retry-After`. */
export function databaseOutages(outages: DatabaseOutages): Middleware<AppState> {
  return async (_ctx, next) => {
    try {
      await next();
    } catch (err) {
      throw outages.refusal(err) ?? err;
    }
  };
}
