import Bull from 'bull';
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { RedisGuard } from '../redis-guard.js';
import { redisConnectionOptions } from '../redis.js';
import { QUEUE_NAMES, QUEUES, queueSettings, type QueueName } from './contracts.js';

export type Queue = Bull.Queue;
export type Job<T = unknown> = Bull.Job<T>;

export type QueueConfig = Pick<
  Config,
  | 'REDIS_URL'
  | 'REDIS_AUTH_TOKEN'
  | 'REDIS_TLS_CA_FILE'
  | 'REDIS_KEY_PREFIX'
  | 'JOB_LOCK_DURATION_MS'
  | 'EMAIL_RATE_PER_SECOND'
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
 * A Bull queue on the app's Redis (REDIS_URL, REDIS_AUTH_TOKEN, TLS for rediss:), with its
 * contract's job defaults and rate limit and the lock/stall settings of queueSettings(). Not
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
  const contract = QUEUES[name];
  const queue = new Bull(name, {
    prefix: bullPrefix(config),
    defaultJobOptions: contract.jobOptions,
    settings: queueSettings(config.JOB_LOCK_DURATION_MS),
    ...(contract.limiter ? { limiter: contract.limiter(config) } : {}),
    createClient(type) {
      if (type === 'client' && options.client) return options.client;
      // Bull's rule: its blocking and subscriber connections must retry every command forever
      // and skip the ready check (it refuses them otherwise); the command connection keeps
      // ioredis's defaults so a call fails instead of waiting forever while Redis is away.
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

/**
 * Bull loses jobs when Redis evicts keys, so the queue Redis must run `maxmemory-policy
 * noeviction`. Reads the policy with CONFIG GET (never sets it: the server may be shared) and
 * returns a problem to report, or undefined when the policy is right. ElastiCache refuses CONFIG:
 * then the answer is a warning that the parameter group must be checked instead.
 */
export async function checkNoEviction(
  client: Redis,
): Promise<{ level: 'error' | 'warn'; message: string; policy?: string } | undefined> {
  let reply: unknown;
  try {
    reply = await client.config('GET', 'maxmemory-policy');
  } catch (err) {
    return {
      level: 'warn',
      message: `cannot read the queue Redis maxmemory-policy (${(err as Error).message}); make sure it is noeviction (on ElastiCache: the parameter group), or Bull may lose jobs under memory pressure`,
    };
  }
  const policy = Array.isArray(reply) ? String(reply[1]) : undefined;
  if (policy === 'noeviction') return undefined;
  return {
    level: 'error',
    policy,
    message: `the queue Redis evicts keys (maxmemory-policy ${policy ?? 'unknown'}): Bull loses jobs when keys are evicted; set maxmemory-policy noeviction on this Redis`,
  };
}
