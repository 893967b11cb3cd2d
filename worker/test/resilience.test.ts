import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig, type Config } from '../../service/src/config.js';
import { connectOrm } from '../../service/src/db/orm.js';
import { createQueue, type Queue } from '../../service/src/jobs/queue.js';
import {
  MAINTENANCE_QUEUE,
  PRUNE_UNUSED_TAGS,
  PRUNE_UNUSED_TAGS_CRON,
} from '../../service/src/jobs/contracts.js';
import { createTestDatabase, type TestDatabase } from '../../service/test/support/database.js';
import { testEnv } from '../../service/test/support/env.js';
import { memoryLogger } from '../../service/test/support/logs.js';
import { startPrivateStore, type PrivateStore } from '../../service/test/support/stores.js';
import { startWorker, type RunningWorker } from '../src/worker.js';
import { silentLogger } from './support/queues.js';
import { until } from '../../service/test/support/wait.js';

let redis: PrivateStore;
let db: TestDatabase;
let config: Config;
let orm: MikroORM;
let worker: RunningWorker;
let observer: Queue;
const { logger, logs } = memoryLogger();

beforeAll(async () => {
  redis = await startPrivateStore('redis');
  db = await createTestDatabase();
  config = loadConfig(testEnv(db.url, { REDIS_URL: redis.url }));
  orm = await connectOrm(config);
  // The periodic check (every 60 s by default) stays out of the way of the reconnection test.
  worker = await startWorker({ config, orm, logger }, { concurrency: 1 });
  observer = createQueue(MAINTENANCE_QUEUE, config, silentLogger());
}, 60_000);

afterAll(async () => {
  await worker?.close(5_000);
  await observer?.close();
  await orm?.close(true);
  await db?.drop();
  await redis?.remove();
});

const scheduled = async () =>
  (await observer.getRepeatableJobs()).some(
    (job) => job.name === PRUNE_UNUSED_TAGS.name && job.cron === PRUNE_UNUSED_TAGS_CRON,
  );

describe('repeatable jobs', () => {
  it('when the schedule disappears from Redis, then the periodic check adds it again and says so', async () => {
    const checker = memoryLogger();
    const checking = await startWorker(
      { config, orm, logger: checker.logger },
      { concurrency: 1, scheduleCheckIntervalMs: 300 },
    );
    try {
      expect(await scheduled()).toBe(true);
      const job = (await observer.getRepeatableJobs()).find(
        (j) => j.name === PRUNE_UNUSED_TAGS.name,
      );
      await observer.removeRepeatableByKey(job!.key);
      expect(await scheduled()).toBe(false);
      await until(scheduled);
      const said = () =>
        checker.logs.filter(
          (l) => l.msg === 'repeatable job was missing from Redis (data lost?): scheduled it again',
        );
      // Visible in Redis a moment before the worker's add resolves and it logs.
      await until(() => said().length > 0);
      expect(said()).toHaveLength(1);
    } finally {
      await checking.close(5_000);
    }
  });

  it('when Redis restarts empty, then the worker logs the lost and restored connections, schedules the job again and keeps processing', async () => {
    const before = logs.length;
    await redis.kill();
    await redis.start();
    await until(scheduled, 15_000);
    await until(() => logs.slice(before).some((l) => l.msg === 'queue reconnected to Redis'));
    // The schedule is visible in Redis a moment before the worker, its add acknowledged, says so.
    await until(() =>
      logs
        .slice(before)
        .some(
          (l) => l.msg === 'repeatable job was missing from Redis (data lost?): scheduled it again',
        ),
    );
    expect(logs.slice(before).some((l) => l.msg === 'queue lost its Redis connection')).toBe(true);

    const job = await observer.add(PRUNE_UNUSED_TAGS.name, {});
    await until(async () => (await job.getState()) === 'completed');
  }, 60_000);
});
