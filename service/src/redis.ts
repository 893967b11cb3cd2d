import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

export type { Redis };

type RedisConnectionConfig = Pick<Config, 'REDIS_AUTH_TOKEN' | 'REDIS_TLS_CA_FILE'>;

/**
 * How every Redis connection of the app (cache client, Bull's three) reaches the server: the
 * auth token, TLS for `rediss:` — the certificate checked against REDIS_TLS_CA_FILE, else Node's
 * public CAs, and its host name always — and the reconnect backoff.
 */
export function redisConnectionOptions(config: RedisConnectionConfig, url: string): RedisOptions {
  return {
    ...(config.REDIS_AUTH_TOKEN ? { password: config.REDIS_AUTH_TOKEN } : {}),
    ...(url.startsWith('rediss:')
      ? {
          tls: config.REDIS_TLS_CA_FILE
            ? { ca: readFileSync(config.REDIS_TLS_CA_FILE, 'utf8') }
            : {},
        }
      : {}),
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  };
}

/**
 * A Redis client that fails fast while disconnected (no offline queue), so callers that treat
 * Redis as optional (cache, readiness report) degrade instead of hanging. Reconnects forever.
 */
export function createRedis(
  config: Pick<Config, 'REDIS_URL'> & RedisConnectionConfig,
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

/**
 * The read cache's own client, connected (docs/read-path.md), when REDIS_CACHE_URL names a Redis
 * other than REDIS_URL; undefined when the cache shares the queue Redis.
 */
export async function connectCacheRedis(
  config: Pick<Config, 'REDIS_URL' | 'REDIS_CACHE_URL'> & RedisConnectionConfig,
  logger: Logger,
): Promise<Redis | undefined> {
  if (!config.REDIS_CACHE_URL || config.REDIS_CACHE_URL === config.REDIS_URL) return undefined;
  const cacheRedis = createRedis(config, logger, config.REDIS_CACHE_URL);
  await connectRedis(cacheRedis);
  return cacheRedis;
}
