import type { Queue } from '../../service/src/jobs/queue.js';

/**
 * Jobs that can run now, per queue: waiting jobs (the `Plinth/QueueBacklog` metric the platform
 * scales workers on). Delayed jobs — retries in backoff, the next run of each repeatable job —
 * are not counted: more workers cannot run them sooner.
 */
export async function backlogByQueue(queues: Queue[]): Promise<Record<string, number>> {
  const counts = await Promise.all(queues.map((queue) => queue.getWaitingCount()));
  return Object.fromEntries(queues.map((queue, i) => [queue.name, counts[i]!]));
}

/** Waiting jobs across `queues`. */
export async function backlog(queues: Queue[]): Promise<number> {
  return Object.values(await backlogByQueue(queues)).reduce((sum, n) => sum + n, 0);
}
