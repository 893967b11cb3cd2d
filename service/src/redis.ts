import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

export type { Redis };

/** How every Redis connection of the app reaches the server: auth token, TLS for rediss:, backoff. */
export function redisConnectionOptions(
  config: Pick<Config, 'REDIS_AUTH_TOKEN'>,
  url: string,
): RedisOptions {
  return {
    ...(config.REDIS_AUTH_TOKEN ? { password: config.REDIS_AUTH_TOKEN } : {}),
    ...(url.startsWith('rediss:') ? { tls: {} } : {}),
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  };
}

/**
 * A Redis client that fails fast while disconnected (no offline queue), so callers that treat
 * Redis as optional (cache, readiness report) degrade instead of hanging. Reconnects forever.
 */
export function createRedis(
  config: Pick<Config, 'REDIS_URL' | 'REDIS_AUTH_TOKEN'>,
  logger: Logger,
  url = config.REDIS_URL,
): Redis {
  const redis = new Redis(url, {
    ...redisConnectionOptions(config, url),
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
  });
  let lastError = '';
  redis.on('error', (err: Error) => {
    // One line per distinct failure, not one per reconnect attempt.
    if (err.message !== lastError) logger.warn({ err: err.message }, 'redis error');
    lastError = err.message;
  });
  redis.on('ready', () => {
    if (lastError) logger.info('redis reconnected');
    lastError = '';
  });
  return redis;
}

/** Connects without failing: the process starts even while Redis is down. */
export async function connectRedis(redis: Redis): Promise<void> {
  await redis.connect().catch(() => undefined);
}
