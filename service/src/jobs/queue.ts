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

/** A job that failed for good (a dead letter), as the admin API shows it. */
export interface FailedJob {
  id: string;
  queue: string;
  name: string;
  payload: unknown;
  meta: Record<string, string>;
  failedReason: string;
  attemptsMade: number;
  attempts: number;
  createdAt: string;
  failedAt: string | null;
}

/** What the admin API does with the queues: counts, dead letters, re-queueing. */
export interface QueueOperations {
  /** Job counts of every queue. */
  counts(): Promise<QueueCounts[]>;
  /**
   * One page of failed jobs (of one queue, or all), newest first, and how many there are;
   * undefined for an unknown queue.
   */
  failed(
    queue: string | undefined,
    page: { limit: number; offset: number },
  ): Promise<{ items: FailedJob[]; count: number } | undefined>;
  /**
   * Moves a failed job back to waiting (it keeps its id and data); false when the queue or a
   * failed job with that id does not exist.
   */
  retry(queue: string, id: string): Promise<boolean>;
}

function toFailedJob(queue: string, job: Job): FailedJob {
  const data = (job.data ?? {}) as { payload?: unknown; meta?: Record<string, string> };
  const enveloped = typeof data === 'object' && 'payload' in data;
  return {
    id: String(job.id),
    queue,
    name: job.name,
    payload: enveloped ? data.payload : job.data,
    meta: enveloped ? (data.meta ?? {}) : {},
    failedReason: job.failedReason ?? '',
    attemptsMade: job.attemptsMade,
    attempts: job.opts.attempts ?? 1,
    createdAt: new Date(job.timestamp).toISOString(),
    failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
  };
}

/**
 * The queues over the guard's client (no connection of its own, so a request opens none), each
 * call within the guard's timeout: a hung or dead Redis is a 503 at once.
 */
export function queueOperations(
  guard: RedisGuard,
  config: QueueConfig,
  logger: Logger,
): QueueOperations {
  let queues: Map<string, Queue> | undefined;
  const all = (client: Redis) =>
    (queues ??= new Map(
      QUEUE_NAMES.map((name) => [name, createQueue(name, config, logger, { client })]),
    ));
  return {
    counts: () =>
      guard.run('queues', (client) =>
        Promise.all(
          [...all(client).values()].map(async (queue) => {
            const [counts, paused] = await Promise.all([queue.getJobCounts(), queue.isPaused()]);
            return { name: queue.name, ...counts, paused };
          }),
        ),
      ),
    failed: (name, page) =>
      guard.run('queues', async (client) => {
        const queues = all(client);
        const chosen = name === undefined ? [...queues.values()] : [queues.get(name)];
        if (chosen.some((q) => q === undefined)) return undefined;
        // Each queue's newest offset + limit, merged by failure time: enough for the page.
        const lists = await Promise.all(
          (chosen as Queue[]).map(async (queue) => {
            const [jobs, count] = await Promise.all([
              queue.getFailed(0, page.offset + page.limit - 1),
              queue.getFailedCount(),
            ]);
            return { jobs: jobs.filter(Boolean).map((job) => toFailedJob(queue.name, job)), count };
          }),
        );
        const items = lists
          .flatMap((l) => l.jobs)
          .sort((a, b) => (b.failedAt ?? '').localeCompare(a.failedAt ?? ''))
          .slice(page.offset, page.offset + page.limit);
        return { items, count: lists.reduce((sum, l) => sum + l.count, 0) };
      }),
    retry: (name, id) =>
      guard.run('queues', async (client) => {
        const queue = all(client).get(name);
        const job = queue && (await queue.getJob(id));
        if (!job || !(await job.isFailed())) return false;
        await job.retry();
        return true;
      }),
  };
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
