import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig, type Config } from '../../service/src/config.js';
import { connectOrm } from '../../service/src/db/orm.js';
import { MAINTENANCE_QUEUE, PRUNE_UNUSED_TAGS } from '../../service/src/jobs/contracts.js';
import { createMetrics, type Metrics } from '../../service/src/metrics.js';
import { createTestDatabase, type TestDatabase } from '../../service/test/support/database.js';
import { testEnv } from '../../service/test/support/env.js';
import { startWorker, type RunningWorker } from '../src/worker.js';
import { deleteQueueKeys, jobEvent, silentLogger } from './support/queues.js';

let db: TestDatabase;
let config: Config;
let orm: MikroORM;
let worker: RunningWorker;
let registry: Metrics;

beforeAll(async () => {
  db = await createTestDatabase();
  config = loadConfig(testEnv(db.url));
  orm = await connectOrm(config);
  registry = createMetrics();
  worker = await startWorker(
    { config, orm, logger: silentLogger(), metrics: registry },
    { concurrency: 1, relay: false },
  );
  const queue = worker.queue(MAINTENANCE_QUEUE);
  const ok = await queue.add(PRUNE_UNUSED_TAGS.name, { payload: {}, meta: {} });
  await jobEvent(queue, 'completed', ok.id);
  // A bad payload fails for good at once.
  const bad = await queue.add(PRUNE_UNUSED_TAGS.name, {
    payload: { olderThanDays: 'seven' },
    meta: {},
  });
  await jobEvent(queue, 'failed', bad.id);
}, 60_000);

afterAll(async () => {
  await worker?.close(5_000);
  await orm?.close(true);
  await db?.drop();
  if (config) await deleteQueueKeys(config.REDIS_KEY_PREFIX);
});

describe('worker metrics', () => {
  it('reports job wait, duration, completions and failures by queue and job name', async () => {
    const text = await registry.metrics();
    const job = 'queue="maintenance",job="prune-unused-tags"';
    const line = (series: string, labels: string, value: number) =>
      expect(text.split('\n')).toContain(`${series}{${labels}} ${value}`);
    line('plinth_job_wait_seconds_count', job, 2);
    line('plinth_job_duration_seconds_count', job, 2);
    line('plinth_jobs_completed_total', job, 1);
    line('plinth_jobs_failed_total', `${job},final="true"`, 1);
  });
});
