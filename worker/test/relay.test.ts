// The outbox relay's guarantees: relays on several workers claim every row exactly once (the
// `sent_at` marking, not Bull's jobId deduplication, is what stops a second job), and a batch
// Bull refuses leaves its rows unsent, to be relayed once Redis accepts writes again.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { loadConfig, type Config } from '../../service/src/config.js';
import { connectOrm } from '../../service/src/db/orm.js';
import { MAINTENANCE_QUEUE, type JobContract } from '../../service/src/jobs/contracts.js';
import { enqueue } from '../../service/src/jobs/outbox.js';
import { createQueue, type Queue } from '../../service/src/jobs/queue.js';
import { createTestDatabase, type TestDatabase } from '../../service/test/support/database.js';
import { testEnv } from '../../service/test/support/env.js';
import { startPrivateStore, type PrivateStore } from '../../service/test/support/stores.js';
import { until } from '../../service/test/support/wait.js';
import { startRelay, type Relay } from '../src/relay.js';
import { deleteQueueKeys, silentLogger } from './support/queues.js';

/** A job no processor takes here: relayed jobs stay waiting, so Bull's count is the relay's. */
const PROBE: JobContract = {
  name: 'relay-probe',
  queue: MAINTENANCE_QUEUE,
  payload: z.strictObject({ i: z.number().int() }),
};

let db: TestDatabase;
let orm: MikroORM;
const logger = silentLogger();

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await connectOrm(loadConfig(testEnv(db.url)));
}, 60_000);

afterAll(async () => {
  await orm?.close(true);
  await db?.drop();
});

/** Commits `count` probe rows in transactions of `perTransaction`; resolves with their ids. */
async function writeRows(from: number, count: number, perTransaction = 50): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < from + count; i += perTransaction) {
    const requests = Array.from({ length: Math.min(perTransaction, from + count - i) }, (_, k) => ({
      contract: PROBE,
      payload: { i: i + k },
    }));
    ids.push(...(await orm.em.fork().transactional((em) => enqueue(em, requests))));
  }
  return ids;
}

const unsent = async () =>
  Number(
    (
      await orm.em
        .fork()
        .execute<{ n: string }[]>('select count(*) as n from outbox where sent_at is null')
    )[0]!.n,
  );

describe('relays on several workers', () => {
  let config: Config;
  const queues: Queue[] = [];
  const relays: Relay[] = [];

  afterAll(async () => {
    await Promise.all(relays.map((r) => r.stop()));
    await Promise.all(queues.map((q) => q.close()));
    if (config) await deleteQueueKeys(config.REDIS_KEY_PREFIX);
  });

  it('when three relays run while producers commit rows, then every row becomes exactly one Bull job, claimed by exactly one relay', async () => {
    config = loadConfig(testEnv(db.url));
    const before = await writeRows(0, 600);
    // Each relay as on its own worker: its own queue connections; small batches interleave them.
    const relayed = [0, 0, 0];
    for (const _ of relayed) queues.push(createQueue(MAINTENANCE_QUEUE, config, logger));
    await Promise.all(queues.map((q) => q.isReady()));
    // Started together, so their first claims race for the rows already there.
    queues.forEach((queue, k) =>
      relays.push(
        startRelay(
          { orm, logger, queues: new Map([[MAINTENANCE_QUEUE, queue]]) },
          { batchSize: 25, pollMs: 10, onRelayed: (n) => (relayed[k]! += n) },
        ),
      ),
    );
    const during = await writeRows(600, 600);
    const ids = [...before, ...during];
    await until(async () => (await unsent()) === 0, 60_000);

    // Claimed once each: had two relays taken one row, the sum would exceed the rows (Bull
    // would hide the second add behind the jobId, so its count alone proves nothing).
    expect(relayed.reduce((a, b) => a + b, 0)).toBe(ids.length);
    // They worked side by side (their first claims raced for the 600 rows written before).
    expect(relayed.filter((n) => n > 0).length).toBeGreaterThan(1);
    const jobs = await queues[0]!.getWaiting(0, -1);
    expect(jobs.map((j) => String(j.id)).sort()).toEqual([...ids].sort());
    expect(
      jobs.map((j) => (j.data as { payload: { i: number } }).payload.i).sort((a, b) => a - b),
    ).toEqual(Array.from({ length: ids.length }, (_, i) => i));
  });
});

describe('a batch Bull refuses', () => {
  let redis: PrivateStore;
  let admin: Redis;
  let queue: Queue;
  let relay: Relay;

  beforeAll(async () => {
    redis = await startPrivateStore('redis');
    admin = new Redis(redis.url);
    queue = createQueue(
      MAINTENANCE_QUEUE,
      loadConfig(testEnv(db.url, { REDIS_URL: redis.url })),
      logger,
    );
    await queue.isReady();
  }, 60_000);

  afterAll(async () => {
    await queue?.close();
    admin?.disconnect();
    await redis?.remove();
  });

  it('when Redis refuses the writes (out of memory under noeviction), then the claim rolls back, the rows stay unsent, and once Redis accepts writes every row becomes a job (none silently skipped by the bulk add)', async () => {
    await orm.em.fork().execute('truncate outbox');
    relay = startRelay(
      { orm, logger, queues: new Map([[MAINTENANCE_QUEUE, queue]]) },
      { batchSize: 100, pollMs: 60_000 },
    );
    // The test moves the batches itself: its loop stops after one look at the empty outbox.
    await relay.stop();
    // A connected Redis that refuses every write: what a full noeviction Redis does.
    await admin.config('SET', 'maxmemory', '1');
    const ids = await writeRows(0, 40);
    await expect(relay.relayOnce()).rejects.toThrow(/EXECABORT|OOM/);
    expect(await unsent()).toBe(40);

    await admin.config('SET', 'maxmemory', '0');
    // (Counted now: Bull counts inside MULTI, which the full Redis refused too.)
    expect(await queue.getWaitingCount()).toBe(0);
    expect(await relay.relayOnce()).toBe(40);
    expect(await unsent()).toBe(0);
    // The connection is whole again: the next batch goes through the bulk add.
    const more = await writeRows(40, 10);
    expect(await relay.relayOnce()).toBe(10);
    const jobs = await queue.getWaiting(0, -1);
    expect(jobs.map((j) => String(j.id)).sort()).toEqual([...ids, ...more].sort());
  });
});
