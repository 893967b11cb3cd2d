import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../../service/src/config.js';
import { createQueue, type Job, type Queue } from '../../service/src/jobs/queue.js';
import {
  MAINTENANCE_QUEUE,
  PRUNE_UNUSED_TAGS,
  PRUNE_UNUSED_TAGS_CRON,
} from '../../service/src/jobs/queues.js';
import type { Logger } from '../../service/src/logger.js';
import { backlog } from './backlog.js';
import { FinalJobError } from './errors.js';
import type { MetricsSink } from './metrics.js';
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

/** Registers every processor and repeatable job and starts consuming. */
export async function startWorker(
  deps: WorkerDeps,
  options: WorkerOptions,
): Promise<RunningWorker> {
  const { config, logger } = deps;
  const maintenance = createQueue(MAINTENANCE_QUEUE, config, logger);
  const queues = [maintenance];

  let failedSincePublish = 0;
  for (const queue of queues) {
    queue.on('failed', (job: Job, err: Error) => {
      const final = err instanceof FinalJobError || job.attemptsMade >= (job.opts.attempts ?? 1);
      if (final) failedSincePublish += 1;
      logger.warn(
        { queue: queue.name, job: job.name, jobId: job.id, attempt: job.attemptsMade, final },
        `job failed${final ? ' for good' : ', will retry'}: ${err.message}`,
      );
    });
  }

  let closing = false;
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
  // Every worker task adds it; Bull keys repeatable jobs by name + cron, so it exists once.
  await maintenance.add(PRUNE_UNUSED_TAGS, {}, { repeat: { cron: PRUNE_UNUSED_TAGS_CRON } });

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
      let timeout: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => {
        timeout = setTimeout(() => resolve(false), timeoutMs);
      });
      const closed = Promise.all(queues.map((q) => q.close())).then(() => true as const);
      const drained = await Promise.race([closed, timedOut]);
      clearTimeout(timeout);
      return drained;
    },
  };
}
