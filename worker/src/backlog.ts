import type { Queue } from '../../service/src/jobs/queue.js';

/**
 * Jobs that can run now: waiting jobs across `queues` (the `Plinth/QueueBacklog` metric the
 * platform scales workers on). Delayed jobs — retries in backoff, the next run of each repeatable
 * job — are not counted: more workers cannot run them sooner.
 */
export async function backlog(queues: Queue[]): Promise<number> {
  const counts = await Promise.all(queues.map((queue) => queue.getWaitingCount()));
  return counts.reduce((sum, n) => sum + n, 0);
}
