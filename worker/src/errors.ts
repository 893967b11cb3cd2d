import type { z } from 'zod';
import { jobMeta, type JobContract, type JobMeta } from '../../service/src/jobs/contracts.js';
import type { Job } from '../../service/src/jobs/queue.js';

/**
 * A failure no retry can fix (a malformed payload, a job for something that cannot exist, a
 * permanent SMTP refusal). Bull 3/4 has no UnrecoverableError: `failFinally` discards the job's
 * remaining attempts. Any other error is retryable and gets the queue's attempts with backoff.
 */
export class FinalJobError extends Error {
  override name = 'FinalJobError';
}

/** Marks the job as failed for good and returns the error for the processor to throw. */
export function failFinally(job: Job, message: string): FinalJobError {
  // Synchronous in Bull 4 (sets a flag) despite the Promise in its typings.
  void job.discard();
  return new FinalJobError(message);
}

/** `{ payload, meta }` as the relay and the worker's repeatable jobs write it. */
function isEnvelope(data: unknown): data is { payload: unknown; meta?: unknown } {
  return typeof data === 'object' && data !== null && 'payload' in data;
}

/**
 * The job's payload checked against its contract; a mismatch is a final failure. Data without
 * the `{ payload, meta }` envelope is taken as the payload itself: repeatable jobs scheduled by
 * an earlier release keep producing such jobs until Redis forgets them.
 */
export function parsePayload<S extends z.ZodType>(job: Job, contract: JobContract<S>): z.infer<S> {
  const raw = isEnvelope(job.data) ? job.data.payload : job.data;
  const result = contract.payload.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues
    .map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`)
    .join('; ');
  throw failFinally(job, `invalid ${job.name} payload: ${problems}`);
}

/** The producer's string headers (request id, trace context); empty when there are none. */
export function metaOf(job: Job): JobMeta {
  if (!isEnvelope(job.data)) return {};
  const parsed = jobMeta.safeParse(job.data.meta ?? {});
  return parsed.success ? parsed.data : {};
}
