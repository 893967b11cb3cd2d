import type { Job } from '../../service/src/jobs/queue.js';
import type { z } from 'zod';

/**
 * A failure no retry can fix (a malformed payload, a job for something that cannot exist).
 * Bull 3/4 has no UnrecoverableError: `failFinally` discards the job's remaining attempts.
 * Any other error is retryable and gets the queue's attempts with exponential backoff.
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

/** The job's payload checked against its contract; a mismatch is a final failure. */
export function parsePayload<S extends z.ZodType>(job: Job, schema: S): z.infer<S> {
  const result = schema.safeParse(job.data);
  if (result.success) return result.data;
  const problems = result.error.issues
    .map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`)
    .join('; ');
  throw failFinally(job, `invalid ${job.name} payload: ${problems}`);
}
