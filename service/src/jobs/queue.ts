import Bull from 'bull';
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { redisConnectionOptions } from '../redis.js';
import { DEFAULT_JOB_OPTIONS, type QueueName } from './queues.js';

export type Queue = Bull.Queue;
export type Job<T = unknown> = Bull.Job<T>;

type QueueConfig = Pick<Config, 'REDIS_URL' | 'REDIS_AUTH_TOKEN' | 'REDIS_KEY_PREFIX'>;

/**
 * Bull's key prefix under the app's REDIS_KEY_PREFIX (`plinth:` → `plinth:bull:<queue>:…`), so
 * apps and test runs sharing one Redis never see each other's jobs.
 */
export function bullPrefix(config: Pick<Config, 'REDIS_KEY_PREFIX'>): string {
  return `${config.REDIS_KEY_PREFIX}bull`;
}

/**
 * A Bull queue on the app's Redis (REDIS_URL, REDIS_AUTH_TOKEN, TLS for rediss:). Not
 * `createRedis()`: that client fails fast without an offline queue, which suits the cache but
 * would drop queue commands during a reconnect. Bull requires its subscriber and blocking
 * clients to retry forever and skip the ready check. Errors of every client surface as the
 * queue's `error` event, logged once per distinct message.
 */
export function createQueue(name: QueueName, config: QueueConfig, logger: Logger): Queue {
  const clients: Redis[] = [];
  const base: RedisOptions = {
    ...redisConnectionOptions(config, config.REDIS_URL),
    connectTimeout: 5_000,
  };
  const queue = new Bull(name, {
    prefix: bullPrefix(config),
    defaultJobOptions: DEFAULT_JOB_OPTIONS,
    createClient(type) {
      const client = new Redis(config.REDIS_URL, {
        ...base,
        ...(type === 'client' ? {} : { maxRetriesPerRequest: null, enableReadyCheck: false }),
      });
      clients.push(client);
      return client;
    },
  });
  let lastError = '';
  queue.on('error', (err: Error) => {
    if (err.message !== lastError) logger.warn({ queue: name, err: err.message }, 'queue error');
    lastError = err.message;
  });
  // Bull closes only the clients it created itself; these are ours to close.
  queue.on('close', () => {
    for (const client of clients) client.disconnect();
  });
  return queue;
}
