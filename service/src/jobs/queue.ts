import Bull from 'bull';
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { RedisGuard } from '../redis-guard.js';
import { redisConnectionOptions } from '../redis.js';
import { DEFAULT_JOB_OPTIONS, QUEUE_NAMES, type QueueName } from './queues.js';

export type Queue = Bull.Queue;
export type Job<T = unknown> = Bull.Job<T>;

type QueueConfig = Pick<
  Config,
  'REDIS_URL' | 'REDIS_AUTH_TOKEN' | 'REDIS_TLS_CA_FILE' | 'REDIS_KEY_PREFIX'
>;

/**
 * Bull's key prefix under the app's REDIS_KEY_PREFIX (`plinth:` → `plinth:bull:<queue>:…`), so
 * apps and test runs sharing one Redis never see each other's jobs.
 */
export function bullPrefix(config: Pick<Config, 'REDIS_KEY_PREFIX'>): string {
  return `${config.REDIS_KEY_PREFIX}bull`;
}

export interface QueueOptions {
  /**
   * Run the queue's commands on this existing client instead of a connection of its own: for
   * reading counts over the service's guarded, fail-fast client. The client stays the caller's
   * (closing the queue leaves it open, and its own listener reports its errors). Such a queue
   * must not process jobs.
   * @default a new connection
   */
  client?: Redis;
}

/**
 * A Bull queue on the app's Redis (REDIS_URL, REDIS_AUTH_TOKEN, TLS for rediss:). Not
 * `createRedis()`: that client fails fast without an offline queue, which suits the cache but
 * would drop queue commands during a reconnect. Bull requires its subscriber and blocking
 * clients to retry forever and skip the ready check. Errors of every client surface as the
 * queue's `error` event, logged once per distinct message.
 */
export function createQueue(
  name: QueueName,
  config: QueueConfig,
  logger: Logger,
  options: QueueOptions = {},
): Queue {
  const clients: Redis[] = [];
  const base: RedisOptions = {
    ...redisConnectionOptions(config, config.REDIS_URL),
    connectTimeout: 5_000,
  };
  const queue = new Bull(name, {
    prefix: bullPrefix(config),
    defaultJobOptions: DEFAULT_JOB_OPTIONS,
    createClient(type) {
      if (type === 'client' && options.client) return options.client;
      const client = new Redis(config.REDIS_URL, {
        ...base,
        ...(type === 'client' ? {} : { maxRetriesPerRequest: null, enableReadyCheck: false }),
      });
      // One line when a connection drops and one when it is back ('reconnecting' is not emitted
      // for a deliberate close).
      let lost = false;
      client.on('reconnecting', () => {
        if (!lost)
          logger.warn({ queue: name, connection: type }, 'queue lost its Redis connection');
        lost = true;
      });
      client.on('ready', () => {
        if (lost) logger.info({ queue: name, connection: type }, 'queue reconnected to Redis');
        lost = false;
      });
      clients.push(client);
      return client;
    },
  });
  if (options.client) return queue;
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

export interface QueueCounts extends Bull.JobCounts {
  name: string;
  paused: boolean;
}

/**
 * Reads the job counts of every queue over the guard's client (no connection of its own, so a
 * request opens none), within the guard's timeout: a hung or dead Redis is a 503 at once.
 */
export function queueCounter(
  guard: RedisGuard,
  config: QueueConfig,
  logger: Logger,
): () => Promise<QueueCounts[]> {
  let queues: Queue[] | undefined;
  return () =>
    guard.run('queues', (client) => {
      queues ??= QUEUE_NAMES.map((name) => createQueue(name, config, logger, { client }));
      return Promise.all(
        queues.map(async (queue) => {
          const [counts, paused] = await Promise.all([queue.getJobCounts(), queue.isPaused()]);
          return { name: queue.name, ...counts, paused };
        }),
      );
    });
}
