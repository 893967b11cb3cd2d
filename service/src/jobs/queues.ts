/**
 * Queue names and job contracts, defined once for whoever produces jobs (today the worker's own
 * repeatable jobs) and the worker that runs them. A payload is validated by the worker before
 * processing; one that fails is a final failure.
 */
import type { JobOptions } from 'bull';
import { z } from 'zod';

/** Housekeeping jobs: cheap, idempotent, safe to run at any time on any worker. */
export const MAINTENANCE_QUEUE = 'maintenance';

/** Every queue the worker consumes; the backlog metric sums over these. */
export const QUEUE_NAMES = [MAINTENANCE_QUEUE] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** Deletes tags no article uses any more (article deletion leaves its tags behind). */
export const PRUNE_UNUSED_TAGS = 'prune-unused-tags';
/** The job takes no input; anything else in the payload is a producer bug. */
export const pruneUnusedTagsPayload = z.object({}).strict();
export type PruneUnusedTagsPayload = z.infer<typeof pruneUnusedTagsPayload>;
/** Hourly, at minute 0 (UTC). */
export const PRUNE_UNUSED_TAGS_CRON = '0 * * * *';

/**
 * Retries for transient failures (database or Redis blips): 5 attempts, 5 s, 10 s, 20 s, 40 s
 * apart. Finished jobs are trimmed so Redis (noeviction) never fills up with history.
 */
export const DEFAULT_JOB_OPTIONS: JobOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 5_000 },
  removeOnComplete: 1_000,
  removeOnFail: 5_000,
};
