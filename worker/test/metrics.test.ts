import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig, type Config } from '../../service/src/config.js';
import { connectOrm } from '../../service/src/db/orm.js';
import { PRUNE_UNUSED_TAGS } from '../../service/src/jobs/contracts.js';
import { createTestDatabase, type TestDatabase } from '../../service/test/support/database.js';
import { testEnv } from '../../service/test/support/env.js';
import { cloudWatchSink, type WorkerMetrics } from '../src/metrics.js';
import { startWorker } from '../src/worker.js';
import { deleteQueueKeys, jobEvent, silentLogger } from './support/queues.js';

let db: TestDatabase;
let config: Config;
let orm: MikroORM;

beforeAll(async () => {
  db = await createTestDatabase();
  config = loadConfig(testEnv(db.url));
  orm = await connectOrm(config);
});
afterAll(async () => {
  await orm?.close(true);
  await db?.drop();
  if (config) await deleteQueueKeys(config.REDIS_KEY_PREFIX);
});

describe('worker metrics', () => {
  it('when jobs fail for good, then the next publish reports them once, with the backlog', async () => {
    // CloudWatch is the external edge: a recording sink stands in for PutMetricData.
    const published: WorkerMetrics[] = [];
    const worker = await startWorker(
      { config, orm, logger: silentLogger() },
      {
        concurrency: 1,
        backlogIntervalMs: 100,
        metrics: { publish: async (m) => void published.push(m) },
      },
    );
    try {
      const [queue] = worker.queues;
      const job = await queue!.add(PRUNE_UNUSED_TAGS.name, { bad: 'payload' });
      await jobEvent(queue!, 'failed', job.id);
      const deadline = Date.now() + 5_000;
      while (!published.some((m) => m.failedJobs === 1) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const index = published.findIndex((m) => m.failedJobs === 1);
      expect(index).toBeGreaterThanOrEqual(0);
      // Counted once: later publishes start from zero again.
      while (published.length <= index + 1 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(published[index + 1]!.failedJobs).toBe(0);
      // The repeatable hourly prune waits as a delayed job: it cannot run now, so no backlog.
      expect(published[index]!.queueBacklog).toBe(0);
    } finally {
      await worker.close(5_000);
    }
  });

  it('when publishing to CloudWatch, then both metrics go to Plinth with the Environment dimension', async () => {
    const sent: PutMetricDataCommand[] = [];
    await cloudWatchSink('staging', async (command) => void sent.push(command)).publish({
      queueBacklog: 7,
      failedJobs: 2,
    });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.input).toMatchObject({
      Namespace: 'Plinth',
      MetricData: [
        {
          MetricName: 'QueueBacklog',
          Value: 7,
          Unit: 'Count',
          Dimensions: [{ Name: 'Environment', Value: 'staging' }],
        },
        {
          MetricName: 'FailedJobs',
          Value: 2,
          Unit: 'Count',
          Dimensions: [{ Name: 'Environment', Value: 'staging' }],
        },
      ],
    });
  });
});
