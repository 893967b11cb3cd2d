import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../../service/src/config.js';
import {
  AVATAR_RESIZE,
  COMMENT_EMAIL,
  DIGEST_EMAIL,
  JOBS,
  NOTIFY_FOLLOWERS,
  NOTIFY_FOLLOWERS_BATCH,
  PRUNE_UNUSED_TAGS,
  PURGE_AUDIT_LOG,
  PURGE_OUTBOX,
  QUEUE_NAMES,
  QUEUES,
  RECOMPUTE_TRENDING_TAGS,
  REPEATABLE_JOBS,
  SCHEDULE_DIGESTS,
  BUILD_EXPORT,
  PURGE_EXPORTS,
  WELCOME_EMAIL,
  type JobData,
  type JobName,
} from '../../service/src/jobs/contracts.js';
import {
  checkNoEviction,
  createQueue,
  type Job,
  type Queue,
} from '../../service/src/jobs/queue.js';
import type { Logger } from '../../service/src/logger.js';
import { ReadCache } from '../../service/src/cache.js';
import { settlesWithin } from '../../service/src/main-util.js';
import { createRedis } from '../../service/src/redis.js';
import { RedisGuard } from '../../service/src/redis-guard.js';
import { createMetrics, type Metrics } from '../../service/src/metrics.js';
import { backlogByQueue } from './backlog.js';
import { createMailer, type Mailer } from './email/mailer.js';
import { withJobSpan } from '../../service/src/jobs/trace-context.js';
import { withLogContext } from '../../service/src/logger.js';
import { FinalJobError, failFinally, metaOf } from './errors.js';
import { queueMetrics } from './queue-metrics.js';
import type { MetricsSink } from './metrics.js';
import { commentEmailProcessor, welcomeEmailProcessor } from './processors/email.js';
import {
  purgeAuditLogProcessor,
  purgeOutboxProcessor,
  recomputeTrendingTagsProcessor,
} from './processors/maintenance.js';
import {
  digestEmailProcessor,
  notifyFollowersBatchProcessor,
  notifyFollowersProcessor,
  scheduleDigestsProcessor,
} from './processors/notifications.js';
import { pruneUnusedTagsProcessor } from './processors/prune-unused-tags.js';
import { buildExportProcessor, purgeExportsProcessor } from './processors/exports.js';
import { createStorage, type ObjectStorage } from '../../service/src/storage/index.js';
import type { Probe, Processor, ProcessorDeps } from './processors/types.js';
import { avatarResizeProcessor } from './processors/avatar.js';
import { startRelay, type Relay } from './relay.js';

export interface WorkerDeps {
  config: Config;
  orm: MikroORM;
  logger: Logger;
  /** The process's metrics registry (queue counters, processing time). @default a new one */
  metrics?: Metrics;
  /** How email leaves. @default nodemailer over SMTP_* (createMailer) */
  mailer?: Mailer;
  /**
   * The API's read cache, so jobs that change what reads show invalidate it (trending tags).
   * @default one on REDIS_CACHE_URL (else REDIS_URL), as the API's
   */
  cache?: ReadCache;
  /** Where user files live (avatars, exports). @default the one the config names (createStorage) */
  storage?: ObjectStorage;
}

/** The read cache the API uses, on its own connection; fails open like the API's. */
function apiReadCache(config: Config, logger: Logger, metrics: Metrics) {
  const redis = createRedis(config, logger, config.REDIS_CACHE_URL ?? config.REDIS_URL);
  // Connects in the background: a cache Redis that is down must not hold the worker's start.
  redis.connect().catch(() => undefined);
  const guard = new RedisGuard(redis, logger, {
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    openMs: config.REDIS_CIRCUIT_OPEN_MS,
  });
  return { cache: new ReadCache(guard, config, metrics), close: () => redis.disconnect() };
}

/** The processor of every job type, built once per worker. */
function processors(deps: ProcessorDeps): Record<JobName, Processor> {
  return {
    [PRUNE_UNUSED_TAGS.name]: pruneUnusedTagsProcessor(deps),
    [PURGE_OUTBOX.name]: purgeOutboxProcessor(deps),
    [PURGE_AUDIT_LOG.name]: purgeAuditLogProcessor(deps),
    [RECOMPUTE_TRENDING_TAGS.name]: recomputeTrendingTagsProcessor(deps),
    [WELCOME_EMAIL.name]: welcomeEmailProcessor(deps),
    [COMMENT_EMAIL.name]: commentEmailProcessor(deps),
    [NOTIFY_FOLLOWERS.name]: notifyFollowersProcessor(deps),
    [NOTIFY_FOLLOWERS_BATCH.name]: notifyFollowersBatchProcessor(deps),
    [SCHEDULE_DIGESTS.name]: scheduleDigestsProcessor(deps),
    [DIGEST_EMAIL.name]: digestEmailProcessor(deps),
    [BUILD_EXPORT.name]: buildExportProcessor(deps),
    [PURGE_EXPORTS.name]: purgeExportsProcessor(deps),
    [AVATAR_RESIZE.name]: avatarResizeProcessor(deps),
  };
}

export interface WorkerOptions {
  /** Jobs run at once per queue, unless the queue's contract fixes its own. */
  concurrency: number;
  /**
   * Run the outbox relay in this worker (several relays are safe: they claim disjoint rows).
   * @default true
   */
  relay?: boolean;
  /** Test hook at named points of a job (see Probe). @default none */
  probe?: Probe;
  /** How often the backlog is logged as `{ queueBacklog }` (and published). @default 60000 */
  backlogIntervalMs?: number;
  /** Where QueueBacklog/FailedJobs go each interval (CloudWatch in AWS). @default log only */
  metrics?: MetricsSink;
  /**
   * How often the repeatable jobs are checked and re-added if Redis lost them (they are also
   * checked on every reconnection).
   * @default 60000
   */
  scheduleCheckIntervalMs?: number;
  /**
   * Aborts start-up: if it fires before jobs are taken, startWorker closes its queues and
   * rejects with the signal's reason. Once started, stop the worker with close().
   * @default start-up cannot be aborted
   */
  signal?: AbortSignal;
}

/** A repeatable job: asserted at start, on every reconnection and every check interval. */
interface Schedule {
  queue: Queue;
  name: string;
  cron: string;
}

const EMPTY_JOB: JobData = { payload: {}, meta: {} };

export interface RunningWorker {
  /** Every queue this worker consumes, in QUEUE_NAMES order. */
  queues: Queue[];
  /** The queue of each name. */
  queue(name: string): Queue;
  /** Its metrics registry. */
  metrics: Metrics;
  /**
   * Stops taking jobs and waits for active ones, at most `timeoutMs`. Resolves true when every
   * active job finished; false when time ran out (those jobs stall and run again elsewhere).
   */
  close(timeoutMs: number): Promise<boolean>;
}

/** `work`, or a rejection with the signal's reason as soon as `signal` aborts. */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  signal.throwIfAborted();
  return Promise.race([
    work,
    new Promise<never>((_, reject) =>
      signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
    ),
  ]);
}

/** Registers every processor and repeatable job and starts consuming. */
export async function startWorker(
  deps: WorkerDeps,
  options: WorkerOptions,
): Promise<RunningWorker> {
  const { config, logger } = deps;
  const registry = deps.metrics ?? createMetrics();
  const mailer = deps.mailer ?? createMailer(config, logger);
  const ownCache = deps.cache ? undefined : apiReadCache(config, logger, registry);
  const cache = deps.cache ?? ownCache!.cache;
  const byName = new Map<string, Queue>(
    QUEUE_NAMES.map((name) => [name, createQueue(name, config, logger)]),
  );
  const queues = [...byName.values()];
  const schedules: Schedule[] = REPEATABLE_JOBS.map(({ contract, cron }) => ({
    queue: byName.get(contract.queue)!,
    name: contract.name,
    cron,
  }));
  const counters = queueMetrics(registry);
  const run = processors({
    ...deps,
    mailer,
    cache,
    queue: (name) => byName.get(name)!,
    storage: deps.storage ?? createStorage(config).storage,
    ...(options.probe ? { probe: options.probe } : {}),
  });

  let failedSincePublish = 0;
  for (const queue of queues) {
    queue.on('failed', (job: Job, err: Error) => {
      const final = err instanceof FinalJobError || job.attemptsMade >= (job.opts.attempts ?? 1);
      if (final) failedSincePublish += 1;
      counters.failed(queue.name, job.name, final);
      logger.warn(
        { queue: queue.name, job: job.name, jobId: job.id, attempt: job.attemptsMade, final },
        `job failed${final ? ' for good' : ', will retry'}: ${err.message}`,
      );
    });
    // A job whose worker died (SIGKILL, lost connection) is moved back to waiting once its lock
    // expires; say so, or a crash looks like a job that merely ran late.
    queue.on('completed', (job: Job) => counters.completed(queue.name, job));
    queue.on('active', (job: Job) => counters.started(queue.name, job));
    queue.on('stalled', (job: Job) => {
      logger.warn(
        { queue: queue.name, job: job.name, jobId: job.id },
        'stalled job recovered (its worker stopped or crashed): it runs again',
      );
    });
  }

  /**
   * Adds each repeatable job Redis does not hold (a fresh or emptied Redis). Bull keys them by
   * name + cron, so every worker task asserting them still yields one schedule.
   */
  let started = false;
  const ensureSchedules = async () => {
    for (const { queue, name, cron } of schedules) {
      const present = (await queue.getRepeatableJobs()).some(
        (job) => job.name === name && job.cron === cron,
      );
      if (present) continue;
      await queue.add(name, EMPTY_JOB, { repeat: { cron } });
      if (started) {
        logger.warn(
          { queue: queue.name, job: name, cron },
          'repeatable job was missing from Redis (data lost?): scheduled it again',
        );
      }
    }
  };
  const reassertSchedules = () => {
    ensureSchedules().catch((err: Error) =>
      logger.warn({ err: err.message }, 'could not check repeatable jobs (retried later)'),
    );
  };

  let closing = false;
  try {
    await unlessAborted(ensureSchedules(), options.signal);
  } catch (err) {
    closing = true;
    // Not awaited: against a hung Redis the close would hang too, and no job was taken.
    for (const queue of queues) queue.close().catch(() => undefined);
    throw err;
  }
  started = true;
  // Every reconnection of the command connection may follow a Redis that lost its data.
  const scheduled = [...new Set(schedules.map((s) => s.queue))];
  for (const queue of scheduled) queue.client.on('ready', reassertSchedules);
  const scheduleTimer = setInterval(reassertSchedules, options.scheduleCheckIntervalMs ?? 60_000);
  scheduleTimer.unref();

  // One process('*') per queue: Bull adds up the concurrency of named processors, so one per job
  // type would multiply the queue's concurrency. The job's name picks its processor.
  for (const queue of queues) {
    const contract = QUEUES[queue.name as keyof typeof QUEUES];
    const concurrency = contract.concurrency ?? options.concurrency;
    // process() settles only when the queue stops; a close racing its start-up rejects it with
    // "Connection is closed", which is expected then and must not become an unhandled rejection.
    queue
      .process('*', concurrency, async (job: Job) => {
        const processor = run[job.name as JobName];
        if (!processor || JOBS[job.name as JobName]?.queue !== queue.name) {
          throw failFinally(job, `no processor for job ${job.name} on queue ${queue.name}`);
        }
        const stop = counters.timer(queue.name, job.name);
        // The job continues the trace of the request that enqueued it (traceparent in its
        // meta), and its log lines carry that request's id.
        const meta = metaOf(job);
        const info = {
          queue: queue.name,
          name: job.name,
          id: job.id,
          attempt: job.attemptsMade + 1,
        };
        try {
          return await withJobSpan(meta, info, () =>
            withLogContext(
              {
                job: job.name,
                jobId: job.id,
                ...(meta.requestId ? { requestId: meta.requestId } : {}),
              },
              () => processor(job),
            ),
          );
        } finally {
          stop();
        }
      })
      .catch((err: Error) => {
        if (!closing) logger.error({ err: err.message }, 'queue processing stopped unexpectedly');
      });
    // Bull's process() fires CLIENT SETNAME on the blocking connection without awaiting it; a
    // close soon after start aborts that command as an unhandled rejection. Naming it again and
    // awaiting means both have completed (same connection, in order) before it can be closed.
    await queue.setWorkerName();
  }

  const problem = await checkNoEviction(queues[0]!.client);
  if (problem) logger[problem.level]({ policy: problem.policy }, problem.message);

  const relay: Relay | undefined =
    options.relay === false
      ? undefined
      : startRelay(
          { orm: deps.orm, logger, queues: byName },
          {
            batchSize: config.OUTBOX_BATCH_SIZE,
            pollMs: config.OUTBOX_POLL_MS,
            onRelayed: (n) => counters.relayed(n),
          },
        );

  const report = async () => {
    const byQueue = await backlogByQueue(queues);
    await counters.refreshCounts(queues);
    const queueBacklog = Object.values(byQueue).reduce((sum, n) => sum + n, 0);
    logger.info({ queueBacklog, byQueue }, 'queue backlog');
    if (!options.metrics) return;
    const failedJobs = failedSincePublish;
    await options.metrics.publish({ queueBacklog, failedJobs, queueBacklogByQueue: byQueue });
    // Only what was published is taken off: failures during the publish count next time.
    failedSincePublish -= failedJobs;
  };
  // One report at a time: two in flight would both publish the same failures.
  let reporting = false;
  const timer = setInterval(() => {
    if (reporting) return;
    reporting = true;
    report()
      .catch((err: Error) =>
        logger.warn({ err: err.message }, 'queue metrics unavailable (kept for the next interval)'),
      )
      .finally(() => {
        reporting = false;
      });
  }, options.backlogIntervalMs ?? 60_000);
  timer.unref();

  return {
    queues,
    queue: (name) => {
      const queue = byName.get(name);
      if (!queue) throw new Error(`no queue ${name}`);
      return queue;
    },
    metrics: registry,
    async close(timeoutMs) {
      closing = true;
      clearInterval(timer);
      clearInterval(scheduleTimer);
      for (const queue of scheduled) queue.client.off('ready', reassertSchedules);
      // The relay first (its batch commits or rolls back whole), then the queues: Bull's close
      // waits for active jobs; unfinished ones go back to the queue when their lock expires.
      const closed = (async () => {
        await relay?.stop();
        await Promise.all(queues.map((q) => q.close()));
        if (!deps.mailer) mailer.close();
        ownCache?.close();
      })();
      return settlesWithin(closed, timeoutMs);
    },
  };
}
