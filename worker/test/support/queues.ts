import { Redis } from 'ioredis';
import { bullPrefix, type Job, type Queue } from '../../../service/src/jobs/queue.js';
import { createLogger } from '../../../service/src/logger.js';
import { TEST_REDIS_URL } from '../../../service/test/support/env.js';
import { until } from '../../../service/test/support/wait.js';

export const silentLogger = () => createLogger({ level: 'silent' });

/** Resolves with the first local `event` ('completed' | 'failed') of job `jobId`. */
export function jobEvent(
  queue: Queue,
  event: 'completed' | 'failed',
  jobId: Job['id'],
): Promise<{ job: Job; result: unknown }> {
  return new Promise((resolve) => {
    const listener = (job: Job, result: unknown) => {
      if (String(job.id) !== String(jobId)) return;
      queue.off(event, listener);
      resolve({ job, result });
    };
    queue.on(event, listener);
  });
}

/** Deletes every Bull key under the test's REDIS_KEY_PREFIX (the Redis is shared). */
export async function deleteQueueKeys(keyPrefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const keys: string[] = [];
    for await (const batch of redis.scanStream({
      match: `${bullPrefix({ REDIS_KEY_PREFIX: keyPrefix })}:*`,
      count: 500,
    })) {
      keys.push(...(batch as string[]));
    }
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

/** Job `jobId` of `queue` once it completed (read after completion, so its return value is there). */
export async function completedJob(queue: Queue, jobId: string, timeoutMs = 30_000): Promise<Job> {
  await until(async () => (await (await queue.getJob(jobId))?.isCompleted()) === true, timeoutMs);
  return (await queue.getJob(jobId))!;
}

/**
 * Tears down what a jobs test started, each part only if it started: the worker first (its
 * active jobs finish), then the SMTP server, the API and the Bull keys under its prefix, then the
 * temporary storage.
 */
export async function closeJobsTest(parts: {
  worker?: { close(timeoutMs: number): Promise<unknown> };
  smtp?: { close(): Promise<unknown> };
  server?: { config: { REDIS_KEY_PREFIX: string }; close(): Promise<unknown> };
  storage?: { remove(): Promise<unknown> };
}): Promise<void> {
  await parts.worker?.close(10_000);
  await parts.smtp?.close();
  const prefix = parts.server?.config.REDIS_KEY_PREFIX;
  await parts.server?.close();
  if (prefix) await deleteQueueKeys(prefix);
  await parts.storage?.remove();
}
