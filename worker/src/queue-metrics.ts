import type { Job, Queue } from '../../service/src/jobs/queue.js';
import { counter, gauge, histogram, type Metrics } from '../../service/src/metrics.js';

/** Job states counted per queue (gauges, refreshed every backlog interval). */
const STATES = ['waiting', 'active', 'failed', 'delayed'] as const;

/**
 * The worker's queue series in the process registry: job counts per queue and state, completed
 * and failed jobs per queue and job type, processing time, and rows the outbox relay moved.
 * Labels are queue and job names from the contracts only (bounded).
 */
export function queueMetrics(registry: Metrics) {
  const jobs = gauge(registry, 'plinth_queue_jobs', 'Jobs per queue and state', ['queue', 'state']);
  const completed = counter(registry, 'plinth_jobs_completed_total', 'Jobs completed', [
    'queue',
    'job',
  ]);
  const failed = counter(
    registry,
    'plinth_jobs_failed_total',
    'Job attempts that failed (final: no retry left)',
    ['queue', 'job', 'final'],
  );
  const duration = histogram(
    registry,
    'plinth_job_duration_seconds',
    'Processing time of a job attempt',
    ['queue', 'job'],
    [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60],
  );
  const wait = histogram(
    registry,
    'plinth_job_wait_seconds',
    'Time a job waited for a worker after it became runnable (queue latency)',
    ['queue', 'job'],
    [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
  );
  const relayed = counter(
    registry,
    'plinth_outbox_relayed_total',
    'Outbox rows the relay handed to Bull',
  );
  return {
    completed: (queue: string, job: Job) => completed.inc({ queue, job: job.name }),
    failed: (queue: string, job: string, final: boolean) =>
      failed.inc({ queue, job, final: String(final) }),
    /** Starts timing an attempt; call the result when it ends. */
    timer: (queue: string, job: string) => duration.startTimer({ queue, job }),
    relayed: (n: number) => relayed.inc(n),
    /** A worker took `job`: how long it waited since it was added (or its delay ended). */
    started: (queue: string, job: Job) => {
      const runnableAt = job.timestamp + (job.opts.delay ?? 0);
      const waitedMs = (job.processedOn ?? Date.now()) - runnableAt;
      wait.observe({ queue, job: job.name }, Math.max(0, waitedMs) / 1000);
    },
    async refreshCounts(queues: Queue[]) {
      for (const queue of queues) {
        const counts = await queue.getJobCounts();
        for (const state of STATES) jobs.set({ queue: queue.name, state }, counts[state]);
      }
    },
  };
}
