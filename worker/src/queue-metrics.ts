import type { Job, Queue } from '../../service/src/jobs/queue.js';
import { settlesWithin } from '../../service/src/main-util.js';
import {
  counter,
  DURATION_BUCKETS,
  gauge,
  histogram,
  type Metrics,
} from '../../service/src/metrics.js';

/** Job counts Bull keeps per queue that the depth gauge reports. */
const STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/** How long a scrape waits for Redis to give the queue depths before reporting without them. */
const DEPTH_TIMEOUT_MS = 2_000;

/**
 * Queue metrics of the worker, labelled by queue and job name (both fixed in code, so bounded):
 * - `queue_jobs{queue,state}`: depth, read from Redis at each scrape (waiting = runnable now);
 * - `job_wait_seconds{queue,job}`: from enqueue (or the end of its delay) to a worker taking it;
 * - `job_duration_seconds{queue,job,outcome}`: processing time of each attempt;
 * - `job_failures_total{queue,job,final}`: failed attempts, `final="true"` when no retry is left.
 */
export function queueMetrics(
  registry: Metrics,
  queues: readonly Queue[],
  isFinal: (job: Job, err: Error) => boolean,
): void {
  gauge(
    registry,
    'queue_jobs',
    'Jobs per queue and state (waiting: runnable now; delayed: retries and scheduled)',
    ['queue', 'state'],
    async (g) => {
      // A hung Redis must not hang the scrape: the depths are then missing from this one.
      let counts: { queue: string; counts: Record<string, number> }[] | undefined;
      const read = Promise.all(
        queues.map(async (q) => ({ queue: q.name, counts: { ...(await q.getJobCounts()) } })),
      ).then((all) => (counts = all));
      await settlesWithin(read, DEPTH_TIMEOUT_MS);
      g.reset();
      for (const { queue, counts: byState } of counts ?? []) {
        for (const state of STATES) g.set({ queue, state }, byState[state] ?? 0);
      }
    },
  );
  const wait = histogram(
    registry,
    'job_wait_seconds',
    'Time a job waited for a worker after it became runnable, by queue and job',
    ['queue', 'job'],
    [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
  );
  const duration = histogram(
    registry,
    'job_duration_seconds',
    'Processing time of one job attempt, by queue, job and outcome',
    ['queue', 'job', 'outcome'],
    DURATION_BUCKETS,
  );
  const failures = counter(
    registry,
    'job_failures_total',
    'Failed job attempts, by queue and job; final="true" when no retry is left',
    ['queue', 'job', 'final'],
  );
  for (const queue of queues) {
    queue.on('active', (job: Job) => {
      const runnableAt = job.timestamp + (job.opts.delay ?? 0);
      const started = job.processedOn ?? Date.now();
      wait.observe({ queue: queue.name, job: job.name }, Math.max(0, started - runnableAt) / 1000);
    });
    const finished = (job: Job, outcome: 'completed' | 'failed') => {
      if (job.processedOn === undefined) return;
      const ms = (job.finishedOn ?? Date.now()) - job.processedOn;
      duration.observe({ queue: queue.name, job: job.name, outcome }, Math.max(0, ms) / 1000);
    };
    queue.on('completed', (job: Job) => finished(job, 'completed'));
    queue.on('failed', (job: Job, err: Error) => {
      finished(job, 'failed');
      failures.inc({ queue: queue.name, job: job.name, final: String(isFinal(job, err)) });
    });
  }
}
