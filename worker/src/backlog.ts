import type { Queue } from '../../service/src/jobs/queue.js';

/**
 * Jobs waiting to run: waiting + delayed across `queues` (the `Plinth/QueueBacklog` metric the
 * platform scales workers on). Delayed includes retries in backoff and the next run of each
 * repeatable job.
 */
export async function backlog(queues: Queue[]): Promise<number> {
  const counts = await Promise.all(
    queues.flatMap((queue) => [queue.getWaitingCount(), queue.getDelayedCount()]),
  );
  return counts.reduce((sum, n) => sum + n, 0);
}
