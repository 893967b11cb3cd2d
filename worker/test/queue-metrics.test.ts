import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig, type Config } from '../../service/src/config.js';
import { connectOrm } from '../../service/src/db/orm.js';
import { PRUNE_UNUSED_TAGS } from '../../service/src/jobs/queues.js';
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
  worker = await startWorker({ config, orm, logger: silentLogger() }, { concurrency: 1, registry });
  const [queue] = worker.queues;
  const ok = await queue!.add(PRUNE_UNUSED_TAGS, {});
  await jobEvent(queue!, 'completed', ok.id);
  // A bad payload fails for good at once.
  const bad = await queue!.add(PRUNE_UNUSED_TAGS, { olderThanDays: 'seven' });
  await jobEvent(queue!, 'failed', bad.id);
}, 60_000);

afterAll(async () => {
  await worker?.close(5_000);
  await orm?.close(true);
  await db?.drop();
  if (config) await deleteQueueKeys(config.REDIS_KEY_PREFIX);
});

describe('worker metrics', () => {
  it('reports queue depth, job wait, duration and failures by queue and job name', async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/^queue_jobs\{queue="maintenance",state="waiting"\} \d+$/m);
    expect(text).toMatch(/^queue_jobs\{queue="maintenance",state="failed"\} 1$/m);
    expect(text).toMatch(
      /^job_wait_seconds_count\{queue="maintenance",job="prune-unused-tags"\} 2$/m,
    );
    expect(text).toMatch(
      /^job_duration_seconds_count\{queue="maintenance",job="prune-unused-tags",outcome="completed"\} 1$/m,
    );
    expect(text).toMatch(
      /^job_duration_seconds_count\{queue="maintenance",job="prune-unused-tags",outcome="failed"\} 1$/m,
    );
    expect(text).toMatch(
      /^job_failures_total\{queue="maintenance",job="prune-unused-tags",final="true"\} 1$/m,
    );
  });
});
