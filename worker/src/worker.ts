import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../../service/src/config.js';
import { createQueue, type Job, type Queue } from '../../service/src/jobs/queue.js';
import {
  MAINTENANCE_QUEUE,
  PRUNE_UNUSED_TAGS,
  PRUNE_UNUSED_TAGS_CRON,
} from '../../service/src/jobs/queues.js';
import type { Logger } from '../../service/src/logger.js';
import { settlesWithin } from '../../service/src/main-util.js';
import { backlog } from './backlog.js';
import { FinalJobError } from './errors.js';
import type { Metrics } from '../../service/src/metrics.js';
import type { MetricsSink } from './metrics.js';
import { queueMetrics } from './queue-metrics.js';
import { pruneUnusedTagsProcessor } from './processors/prune-unused-tags.js';

export interface WorkerDeps {
  config: Config;
  orm: MikroORM;
  logger: Logger;
}

export interface WorkerOptions {
  /** Jobs run at once per queue. */
  concurrency: number;
  /** How often the backlog is logged as `{ queueBacklog }` (and published). @default 60000 */
  backlogIntervalMs?: number;
  /** Where QueueBacklog/FailedJobs go each interval (CloudWatch in AWS). @default log only */
  metrics?: MetricsSink;
  /** The process's Prometheus registry: queue depth, job wait, duration, failures. @default none */
  registry?: Metrics;
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

export interface RunningWorker {
  /** Every queue this worker consumes, by name. */
  queues: Queue[];
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
  const maintenance = createQueue(MAINTENANCE_QUEUE, config, logger);
  const queues = [maintenance];
  const schedules: Schedule[] = [
    { queue: maintenance, name: PRUNE_UNUSED_TAGS, cron: PRUNE_UNUSED_TAGS_CRON },
  ];

  const isFinal = (job: Job, err: Error) =>
    err instanceof FinalJobError || job.attemptsMade >= (job.opts.attempts ?? 1);
  if (options.registry) queueMetrics(options.registry, queues, isFinal);
  let failedSincePublish = 0;
  for (const queue of queues) {
    queue.on('failed', (job: Job, err: Error) => {
      const final = isFinal(job, err);
      if (final) failedSincePublish += 1;
      logger.warn(
        { queue: queue.name, job: job.name, jobId: job.id, attempt: job.attemptsMade, final },
        `job failed${final ? ' for good' : ', will retry'}: ${err.message}`,
      );
    });
    // A job whose worker died (SIGKILL, lost connection) is moved back to waiting once its lock
    // expires; say so, or a crash looks like a job that merely ran late.
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
      await queue.add(name, {}, { repeat: { cron } });
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
  for (const { queue } of schedules) queue.client.on('ready', reassertSchedules);
  const scheduleTimer = setInterval(reassertSchedules, options.scheduleCheckIntervalMs ?? 60_000);
  scheduleTimer.unref();

  // process() settles only when the queue stops; a close racing its start-up rejects it with
  // "Connection is closed", which is expected then and must not become an unhandled rejection.
  maintenance
    .process(PRUNE_UNUSED_TAGS, options.concurrency, pruneUnusedTagsProcessor(deps))
    .catch((err: Error) => {
      if (!closing) logger.error({ err: err.message }, 'queue processing stopped unexpectedly');
    });
  // Bull's process() fires CLIENT SETNAME on the blocking connection without awaiting it; a close
  // soon after start aborts that command as an unhandled rejection. Naming it again and awaiting
  // means both have completed (same connection, in order) before this worker can be closed.
  await maintenance.setWorkerName();

  const report = async () => {
    const queueBacklog = await backlog(queues);
    logger.info({ queueBacklog }, 'queue backlog');
    if (!options.metrics) return;
    const failedJobs = failedSincePublish;
    await options.metrics.publish({ queueBacklog, failedJobs });
    // Only what was published is taken off: failures during the publish count next time.
    failedSincePublish -= failedJobs;
  };
  const timer = setInterval(() => {
    report().catch((err: Error) =>
      logger.warn({ err: err.message }, 'queue metrics unavailable (kept for the next interval)'),
    );
  }, options.backlogIntervalMs ?? 60_000);
  timer.unref();

  return {
    queues,
    async close(timeoutMs) {
      closing = true;
      clearInterval(timer);
      clearInterval(scheduleTimer);
      for (const { queue } of schedules) queue.client.off('ready', reassertSchedules);
      return settlesWithin(Promise.all(queues.map((q) => q.close())), timeoutMs);
    },
  };
}
