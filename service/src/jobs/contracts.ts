/**
 * Job contracts, defined once for the producers (feature services writing outbox rows, the
 * worker's repeatable jobs) and the processors in the worker: queue names, per-queue settings,
 * and for every job type its queue and payload schema. A payload is validated when it is
 * enqueued (a bad one never reaches the outbox) and again by the worker before processing (a
 * row written by an older or newer release may not match); a mismatch there is a final failure.
 *
 * Every Bull job carries `{ payload, meta }` (JobData): `meta` holds cross-cutting string
 * headers from the request that caused the job (request id; trace context), passed through the
 * outbox untouched.
 */
import type { JobOptions } from 'bull';
import { z } from 'zod';

/** Mail to users: rate-limited for the provider (SES), retried on transient SMTP failures. */
export const EMAIL_QUEUE = 'email';
/** Housekeeping jobs: cheap, idempotent, safe to run at any time on any worker. */
export const MAINTENANCE_QUEUE = 'maintenance';
/** In-app notification fan-out: many short batch jobs in parallel. */
export const NOTIFICATIONS_QUEUE = 'notifications';

/** Users' data exports: long jobs (seconds to minutes), kept apart so they never delay mail. */
export const EXPORTS_QUEUE = 'exports';

/** Image processing (avatar resizing): CPU-bound, a few at a time per worker. */
export const IMAGES_QUEUE = 'images';

/** Every queue the worker consumes; the backlog metric sums over these. */
export const QUEUE_NAMES = [
  MAINTENANCE_QUEUE,
  EMAIL_QUEUE,
  NOTIFICATIONS_QUEUE,
  EXPORTS_QUEUE,
  IMAGES_QUEUE,
] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** Cross-cutting context carried from the producing request to the job (all strings). */
export const jobMeta = z.record(z.string(), z.string());
export type JobMeta = z.infer<typeof jobMeta>;

/** What a Bull job's `data` holds: the payload of its contract and the producer's meta. */
export interface JobData<P = unknown> {
  payload: P;
  meta: JobMeta;
}

/** One job type: where it runs and what its payload looks like. */
export interface JobContract<S extends z.ZodType = z.ZodType> {
  /** The Bull job name (processors are registered per name). */
  name: string;
  queue: string;
  payload: S;
}

function job<const N extends string, S extends z.ZodType>(
  name: N,
  queue: QueueName,
  payload: S,
): JobContract<S> & { name: N; queue: QueueName } {
  return { name, queue, payload };
}

const id = z.number().int().positive();

/**
 * Welcome mail after registration. At-least-once, with the stable Message-ID
 * `<welcome-<userId>@<mail domain>>`: a crash between the SMTP server's acceptance and the
 * delivery record sends it again with the same Message-ID (receivers can drop the copy).
 */
export const WELCOME_EMAIL = job('welcome-email', EMAIL_QUEUE, z.strictObject({ userId: id }));
/**
 * "New comment on your article" to the article's author (not for comments on one's own
 * article). At-least-once, Message-ID `<comment-<commentId>@<mail domain>>`; a comment deleted
 * before the job runs sends nothing.
 */
export const COMMENT_EMAIL = job('comment-email', EMAIL_QUEUE, z.strictObject({ commentId: id }));
/** Deletes tags no article uses any more (article deletion leaves its tags behind); hourly. */
export const PRUNE_UNUSED_TAGS_CRON = '0 * * * *';
export const PRUNE_UNUSED_TAGS = job('prune-unused-tags', MAINTENANCE_QUEUE, z.strictObject({}));
/** Deletes outbox rows sent longer ago than OUTBOX_RETENTION_DAYS. */
export const PURGE_OUTBOX = job('purge-outbox', MAINTENANCE_QUEUE, z.strictObject({}));
/** Deletes audit-log entries older than AUDIT_LOG_RETENTION_DAYS. */
export const PURGE_AUDIT_LOG = job('purge-audit-log', MAINTENANCE_QUEUE, z.strictObject({}));
/** Recomputes every tag's trending score, which orders `/api/tags`. */
export const RECOMPUTE_TRENDING_TAGS = job(
  'recompute-trending-tags',
  MAINTENANCE_QUEUE,
  z.strictObject({}),
);

/**
 * Fan-out of a published article to its author's followers (produced with the article, in the
 * same transaction). Plans the work only: walks the author's followers in keyset pages of
 * NOTIFICATION_BATCH_SIZE (`follower_id > after … limit n`, on the (followee, follower) index)
 * and adds one NOTIFY_FOLLOWERS_BATCH job per page, with the deterministic jobId
 * `notify:<articleId>:<after>`, so a rerun adds no second copy while Bull keeps the first. An
 * article deleted or back in draft by then notifies nobody. At-least-once; effectively once
 * through the batches' unique key.
 */
export const NOTIFY_FOLLOWERS = job(
  'notify-followers',
  NOTIFICATIONS_QUEUE,
  z.strictObject({ articleId: id }),
);
/**
 * One page of a fan-out: the followers with `after < follower_id <= upTo` (no upper bound when
 * `upTo` is null: the last page, which also takes whoever followed since the plan). ONE
 * multi-row `INSERT … SELECT … ON CONFLICT (article_id, user_id) DO NOTHING`, so the batch is
 * all or nothing and running it again (retry, stalled worker, a re-planned overlapping page)
 * adds no duplicate: at-least-once execution, exactly one notification per (article, follower).
 */
export const NOTIFY_FOLLOWERS_BATCH = job(
  'notify-followers-batch',
  NOTIFICATIONS_QUEUE,
  z.strictObject({
    articleId: id,
    after: z.number().int().nonnegative(),
    upTo: id.nullable(),
  }),
);
/**
 * Daily: for every user who opted in to the digest (notification_settings.digest) and has unread
 * notifications newer than their last digest, writes one DIGEST_EMAIL outbox row for the UTC day
 * and marks the day on the user's settings in the same statement, so running it twice the same
 * day enqueues nothing more. Idempotent.
 */
export const SCHEDULE_DIGESTS = job('schedule-digests', MAINTENANCE_QUEUE, z.strictObject({}));
/**
 * The daily digest of a user's unread notifications. At-least-once, with the stable Message-ID
 * `<digest-<userId>-<day>@<mail domain>>` (one per user per day); nothing is sent when the user
 * turned the digest off or read everything meanwhile.
 */
export const DIGEST_EMAIL = job(
  'digest-email',
  EMAIL_QUEUE,
  z.strictObject({ userId: id, day: z.iso.date() }),
);
/**
 * Builds a user's data export (`data_exports` row `exportId`): streams their rows from
 * PostgreSQL page by page into gzipped JSON, writing progress after every page, stores it at
 * `exports/<userId>/<exportId>.json.gz` and marks the row done. Idempotent by state: a done,
 * failed or purged export is left as it is; a queued or running one (a retry, or a rerun after
 * the worker died mid-export) is rebuilt from the start and overwrites the same key, so the
 * stored file is always one complete build. Exactly one file per export; the final failure of
 * the last attempt marks the row failed.
 */
export const BUILD_EXPORT = job(
  'build-export',
  EXPORTS_QUEUE,
  z.strictObject({ exportId: z.uuid() }),
);
/**
 * Deletes data exports past their retention (`expires_at`, EXPORT_RETENTION_DAYS after they
 * were done): the file first, then the row, so a crash in between only leaves a row whose file
 * is already gone (deleted again next run). Also fails exports stuck queued or running for a
 * day (a job lost for good), so the user may request a new one. Idempotent.
 */
export const PURGE_EXPORTS = job('purge-exports', MAINTENANCE_QUEUE, z.strictObject({}));
/** Square sizes, in pixels, an avatar is resized to (WebP); the user's `image` is the largest. */
export const AVATAR_SIZES = [64, 128, 256] as const;
/**
 * Resizes an uploaded avatar (staged under `uploads/`) into AVATAR_SIZES as WebP under
 * `avatars/<userId>/<uploadId>-<size>.webp`, then in one transaction marks the upload done and
 * points the user's `image` at the largest size (unless a newer upload of theirs is already
 * done); after the commit it removes the replaced avatar's files and the staged original.
 * Idempotent, by the upload's status: a rerun before the commit rewrites the same keys (same
 * bytes); a rerun after it only repeats the removals, which are safe to repeat. A crash before
 * the commit can leave that upload's resized files behind only until the rerun overwrites them;
 * an undecodable image marks the upload failed (no retry) and removes what it wrote.
 */
export const AVATAR_RESIZE = job(
  'avatar-resize',
  IMAGES_QUEUE,
  z.strictObject({ uploadId: z.uuid() }),
);

/** Every job type the worker runs, by name. */
export const JOBS = {
  [WELCOME_EMAIL.name]: WELCOME_EMAIL,
  [COMMENT_EMAIL.name]: COMMENT_EMAIL,
  [PRUNE_UNUSED_TAGS.name]: PRUNE_UNUSED_TAGS,
  [PURGE_OUTBOX.name]: PURGE_OUTBOX,
  [PURGE_AUDIT_LOG.name]: PURGE_AUDIT_LOG,
  [RECOMPUTE_TRENDING_TAGS.name]: RECOMPUTE_TRENDING_TAGS,
  [NOTIFY_FOLLOWERS.name]: NOTIFY_FOLLOWERS,
  [NOTIFY_FOLLOWERS_BATCH.name]: NOTIFY_FOLLOWERS_BATCH,
  [SCHEDULE_DIGESTS.name]: SCHEDULE_DIGESTS,
  [DIGEST_EMAIL.name]: DIGEST_EMAIL,
  [BUILD_EXPORT.name]: BUILD_EXPORT,
  [PURGE_EXPORTS.name]: PURGE_EXPORTS,
  [AVATAR_RESIZE.name]: AVATAR_RESIZE,
} as const;
export type JobName = keyof typeof JOBS;

/** A job ready to enqueue: its contract and a payload of that contract's type. */
export interface JobRequest<S extends z.ZodType = z.ZodType> {
  contract: JobContract<S>;
  payload: z.input<S>;
}

/** Typed constructor of a job request. */
export function jobRequest<S extends z.ZodType>(
  contract: JobContract<S>,
  payload: z.input<S>,
): JobRequest<S> {
  return { contract, payload };
}

/** Repeatable jobs: asserted on every worker start, Redis reconnection and check interval. */
export interface RepeatableJob {
  contract: JobContract;
  cron: string;
}
export const REPEATABLE_JOBS: RepeatableJob[] = [
  /** Hourly, at minute 0 (UTC). */
  { contract: PRUNE_UNUSED_TAGS, cron: PRUNE_UNUSED_TAGS_CRON },
  /** Daily, 03:10 UTC. */
  { contract: PURGE_OUTBOX, cron: '10 3 * * *' },
  /** Daily, 03:20 UTC. */
  { contract: PURGE_AUDIT_LOG, cron: '20 3 * * *' },
  /** Every 10 minutes. */
  { contract: RECOMPUTE_TRENDING_TAGS, cron: '*/10 * * * *' },
  /** Daily, 08:00 UTC. */
  { contract: SCHEDULE_DIGESTS, cron: '0 8 * * *' },
  /** Hourly, at minute 40 (UTC): expired exports go within an hour of their expiry. */
  { contract: PURGE_EXPORTS, cron: '40 * * * *' },
];

/** The one backoff strategy of every queue (registered under this name in the queue settings). */
export const JITTERED_BACKOFF = 'exponential-jitter';

/**
 * Exponential backoff with "equal jitter": attempt n waits between half and all of
 * `delayMs · 2^(n-1)` (capped at `maxDelayMs`), so jobs that failed together (an SMTP outage) do
 * not all come back in the same second.
 */
export function jitteredBackoffMs(
  attemptsMade: number,
  options: { delayMs: number; maxDelayMs: number },
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    options.delayMs * 2 ** Math.max(0, attemptsMade - 1),
    options.maxDelayMs,
  );
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * Completed jobs are kept for a day (and at most 100,000 per queue): a Bull jobId is only
 * deduplicated while its job exists, and the relay may re-add a job only when its claim's commit
 * failed after Bull accepted the job, which it retries within seconds. The relay's `sent_at`
 * marking is the real guard; this retention covers that window with a wide margin. Failed jobs
 * (dead letters) are kept for a week for an admin to inspect and re-queue.
 */
export const COMPLETED_RETENTION = { age: 24 * 3600, count: 100_000 };
export const FAILED_RETENTION = { age: 7 * 24 * 3600, count: 100_000 };

/** Per-queue settings: how many jobs at once, retries, provider limits. */
export interface QueueContract {
  name: QueueName;
  /** Jobs one worker runs at once on this queue. @default WORKER_CONCURRENCY */
  concurrency?: number;
  /** Bull's rate limiter: at most `max` jobs per `duration` ms across all workers. */
  limiter?: (config: { EMAIL_RATE_PER_SECOND: number }) => { max: number; duration: number };
  /** Defaults of every job added to this queue. */
  jobOptions: JobOptions;
}

export const QUEUES: Record<QueueName, QueueContract> = {
  [EMAIL_QUEUE]: {
    name: EMAIL_QUEUE,
    // SES allows a fixed number of messages per second per account (EMAIL_RATE_PER_SECOND).
    limiter: (config) => ({ max: config.EMAIL_RATE_PER_SECOND, duration: 1_000 }),
    jobOptions: {
      // 8 attempts, about 10 s to 11 min apart (about 20 min in all): an SMTP outage of that
      // length still delivers; a permanent refusal (5xx) fails at once.
      attempts: 8,
      backoff: { type: JITTERED_BACKOFF, options: { delayMs: 10_000, maxDelayMs: 15 * 60_000 } },
      removeOnComplete: COMPLETED_RETENTION,
      removeOnFail: FAILED_RETENTION,
    },
  },
  [MAINTENANCE_QUEUE]: {
    name: MAINTENANCE_QUEUE,
    // One at a time: these are bulk statements that would only contend with each other.
    concurrency: 1,
    jobOptions: {
      // 5 attempts, about 5 s, 10 s, 20 s, 40 s apart (database blips).
      attempts: 5,
      backoff: { type: JITTERED_BACKOFF, options: { delayMs: 5_000, maxDelayMs: 5 * 60_000 } },
      removeOnComplete: COMPLETED_RETENTION,
      removeOnFail: FAILED_RETENTION,
    },
  },
  [NOTIFICATIONS_QUEUE]: {
    name: NOTIFICATIONS_QUEUE,
    jobOptions: {
      // 5 attempts, about 2 s, 4 s, 8 s, 16 s apart (database blips); each batch is one statement.
      attempts: 5,
      backoff: { type: JITTERED_BACKOFF, options: { delayMs: 2_000, maxDelayMs: 5 * 60_000 } },
      removeOnComplete: COMPLETED_RETENTION,
      removeOnFail: FAILED_RETENTION,
    },
  },
  [EXPORTS_QUEUE]: {
    name: EXPORTS_QUEUE,
    // Each export runs a query per page and holds its compressed file in memory until stored:
    // two at a time per worker leaves the pool and memory to the other queues.
    concurrency: 2,
    jobOptions: {
      // 4 attempts, about 15 s, 30 s, 60 s apart: a database or storage blip, not an outage.
      attempts: 4,
      backoff: { type: JITTERED_BACKOFF, options: { delayMs: 15_000, maxDelayMs: 5 * 60_000 } },
      removeOnComplete: COMPLETED_RETENTION,
      removeOnFail: FAILED_RETENTION,
    },
  },
  [IMAGES_QUEUE]: {
    name: IMAGES_QUEUE,
    // Decoding and encoding use libvips' own threads; two jobs keep a worker's cores busy
    // without holding several large decoded images in memory at once.
    concurrency: 2,
    jobOptions: {
      // 5 attempts, about 5 s to 80 s apart (storage or database blips); an undecodable image
      // is a final failure at once.
      attempts: 5,
      backoff: { type: JITTERED_BACKOFF, options: { delayMs: 5_000, maxDelayMs: 5 * 60_000 } },
      removeOnComplete: COMPLETED_RETENTION,
      removeOnFail: FAILED_RETENTION,
    },
  },
};

/**
 * Lock and stall detection, chosen on purpose rather than Bull's defaults (30 s lock, one stall
 * allowed): a worker holds a job's lock for `lockDurationMs` and renews it every third of that;
 * a crashed worker's job is found by the stall check (every `lockDurationMs`) and runs again
 * elsewhere within about two lock durations. Up to 3 stalls are allowed before the job fails,
 * because every processor is idempotent and a rolling deploy or two crashes in a row must not
 * turn a good job into a dead letter. An event-loop block longer than the lock would also stall a
 * job (it runs twice, which idempotence makes harmless): no processor blocks that long.
 */
export function queueSettings(lockDurationMs: number) {
  return {
    lockDuration: lockDurationMs,
    lockRenewTime: Math.floor(lockDurationMs / 3),
    stalledInterval: lockDurationMs,
    maxStalledCount: 3,
    backoffStrategies: {
      [JITTERED_BACKOFF]: (
        attemptsMade: number,
        _err: Error,
        options?: { delayMs: number; maxDelayMs: number },
      ) => jitteredBackoffMs(attemptsMade, options ?? { delayMs: 5_000, maxDelayMs: 300_000 }),
    },
  };
}

/** Checks a payload against its contract (producer side); throws a readable error on mismatch. */
export function validatePayload<S extends z.ZodType>(
  contract: JobContract<S>,
  payload: unknown,
): z.output<S> {
  const result = contract.payload.safeParse(payload);
  if (result.success) return result.data;
  const problems = result.error.issues
    .map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`)
    .join('; ');
  throw new InvalidJobPayloadError(`invalid ${contract.name} payload: ${problems}`);
}

export class InvalidJobPayloadError extends Error {
  override name = 'InvalidJobPayloadError';
}
