import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig, type Config } from '../../service/src/config.js';
import { connectOrm } from '../../service/src/db/orm.js';
import { createQueue } from '../../service/src/jobs/queue.js';
import {
  MAINTENANCE_QUEUE,
  PRUNE_UNUSED_TAGS,
  PRUNE_UNUSED_TAGS_CRON,
  REPEATABLE_JOBS,
} from '../../service/src/jobs/contracts.js';
import { Tag } from '../../service/src/modules/tags/tag.entity.js';
import { createTestDatabase, type TestDatabase } from '../../service/test/support/database.js';
import { testEnv } from '../../service/test/support/env.js';
import { backlog } from '../src/backlog.js';
import { startWorker, type RunningWorker } from '../src/worker.js';
import { deleteQueueKeys, jobEvent, silentLogger } from './support/queues.js';

let db: TestDatabase;
let config: Config;
let orm: MikroORM;
let worker: RunningWorker;

beforeAll(async () => {
  db = await createTestDatabase();
  config = loadConfig(testEnv(db.url));
  orm = await connectOrm(config);
  worker = await startWorker({ config, orm, logger: silentLogger() }, { concurrency: 1 });
});

afterAll(async () => {
  await worker?.close(5_000);
  await orm?.close(true);
  await db?.drop();
  if (config) await deleteQueueKeys(config.REDIS_KEY_PREFIX);
});

describe('worker', () => {
  it('when a prune-unused-tags job is enqueued, then the worker runs it and unused tags are gone', async () => {
    await orm.em.fork().insertMany(Tag, [{ name: 'orphan-1' }, { name: 'orphan-2' }]);
    const [queue] = worker.queues;
    const job = await queue!.add(PRUNE_UNUSED_TAGS.name, {});
    const { result } = await jobEvent(queue!, 'completed', job.id);
    expect(result).toEqual({ deleted: 2 });
    expect(await orm.em.fork().count(Tag, {})).toBe(0);
  });

  it('when a job has a bad payload, then it fails for good on the first attempt', async () => {
    const [queue] = worker.queues;
    const job = await queue!.add(PRUNE_UNUSED_TAGS.name, { olderThanDays: 'seven' });
    const { job: failed } = await jobEvent(queue!, 'failed', job.id);
    expect(failed.opts.attempts).toBeGreaterThan(1);
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toMatch(/invalid prune-unused-tags payload/);
    expect(await failed.getState()).toBe('failed');
  });

  it('when the database fails, then the job is kept for a retry with backoff', async () => {
    // A real database error: this database has no tables yet.
    const empty = await createTestDatabase({ migrate: false });
    const brokenConfig = loadConfig(testEnv(empty.url));
    const brokenOrm = await connectOrm(brokenConfig);
    const broken = await startWorker(
      { config: brokenConfig, orm: brokenOrm, logger: silentLogger() },
      { concurrency: 1 },
    );
    try {
      const [queue] = broken.queues;
      const job = await queue!.add(PRUNE_UNUSED_TAGS.name, {});
      const { job: failed } = await jobEvent(queue!, 'failed', job.id);
      expect(failed.failedReason).toMatch(/relation "tags" does not exist/);
      expect(failed.attemptsMade).toBe(1);
      expect(await failed.getState()).toBe('delayed');
    } finally {
      await broken.close(5_000);
      await brokenOrm.close(true);
      await empty.drop();
      await deleteQueueKeys(brokenConfig.REDIS_KEY_PREFIX);
    }
  });

  it('when several workers start, then every repeatable job is scheduled exactly once', async () => {
    const second = await startWorker({ config, orm, logger: silentLogger() }, { concurrency: 1 });
    try {
      const repeatable = await worker.queues[0]!.getRepeatableJobs();
      expect(repeatable.map((job) => `${job.name} ${job.cron}`).sort()).toEqual(
        REPEATABLE_JOBS.map(({ contract, cron }) => `${contract.name} ${cron}`).sort(),
      );
      expect(REPEATABLE_JOBS).toContainEqual({
        contract: PRUNE_UNUSED_TAGS,
        cron: PRUNE_UNUSED_TAGS_CRON,
      });
    } finally {
      await second.close(5_000);
    }
  });
});

describe('backlog', () => {
  it('when jobs wait and others are delayed, then the backlog counts only the waiting ones', async () => {
    const keyPrefix = `${testEnv(db.url).REDIS_KEY_PREFIX}`;
    // A queue nobody consumes, so nothing moves while we count.
    const queue = createQueue(
      MAINTENANCE_QUEUE,
      { ...config, REDIS_KEY_PREFIX: keyPrefix },
      silentLogger(),
    );
    try {
      expect(await backlog([queue])).toBe(0);
      await queue.add(PRUNE_UNUSED_TAGS.name, {});
      await queue.add(PRUNE_UNUSED_TAGS.name, {});
      await queue.add(PRUNE_UNUSED_TAGS.name, {}, { delay: 60_000 });
      expect(await backlog([queue])).toBe(2);
    } finally {
      await queue.close();
      await deleteQueueKeys(keyPrefix);
    }
  });
});
