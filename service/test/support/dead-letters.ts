import type { Config } from '../../src/config.js';
import { MAINTENANCE_QUEUE, PRUNE_UNUSED_TAGS } from '../../src/jobs/contracts.js';
import { createQueue, type Queue } from '../../src/jobs/queue.js';
import { createLogger } from '../../src/logger.js';

export interface DeadLetter {
  queue: Queue;
  /** The queue's name and the failed job's id, as the admin API's paths take them. */
  queueName: string;
  jobId: string;
  /** Removes the queue's keys and closes it. */
  remove(): Promise<void>;
}

/**
 * A dead letter in the maintenance queue of `config`'s Redis prefix: one attempt, failed by a
 * processor of the caller's own; the queue is then paused, so a re-queued job stays waiting.
 */
export async function createDeadLetter(config: Config): Promise<DeadLetter> {
  const queue = createQueue(MAINTENANCE_QUEUE, config, createLogger({ level: 'silent' }));
  const failed = new Promise<void>((resolve) => queue.once('failed', () => resolve()));
  void queue.process(PRUNE_UNUSED_TAGS.name, 1, async () => {
    throw new Error('failed on purpose');
  });
  const job = await queue.add(PRUNE_UNUSED_TAGS.name, { payload: {}, meta: {} }, { attempts: 1 });
  await failed;
  await queue.pause(true);
  return {
    queue,
    queueName: MAINTENANCE_QUEUE,
    jobId: String(job.id),
    async remove() {
      await queue.obliterate({ force: true });
      await queue.close();
    },
  };
}
