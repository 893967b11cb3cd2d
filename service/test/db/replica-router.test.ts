// The replica router against a real streaming replica (scripts/stores.sh replica-set): where reads
// land, read-your-writes and monotonic reads per user while replay is paused, and replica health
// (paused and lagging, stopped, failing mid-read, discovered later).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { EntityManager } from '@mikro-orm/postgresql';
import { appRedisGuard } from '../../src/app.js';
import { ReadCache } from '../../src/cache.js';
import { loadConfig } from '../../src/config.js';
import { connectOrm, type Orm } from '../../src/db/orm.js';
import type { ReadSource } from '../../src/db/read-source.js';
import type { ReplicaRouter } from '../../src/db/replica-router.js';
import { replicaRouter } from '../../src/db/replica-routing.js';
import { createMetrics } from '../../src/metrics.js';
import { createRedis, type Redis } from '../../src/redis.js';
import type { TestDatabase } from '../support/database.js';
import { testEnv, uniqueName } from '../support/env.js';
import { memoryLogger } from '../support/logs.js';
import { freePort } from '../support/process.js';
import {
  startReplicatedTestDatabase,
  type PrivateReplicaSet,
  type ReplicatedTestDatabase,
} from '../support/stores.js';
import { until } from '../support/wait.js';

let replicated: ReplicatedTestDatabase;
let set: PrivateReplicaSet;
let db: TestDatabase;
let replicaUrl: string;
let primary: Orm;
let redis: Redis;
const routers: ReplicaRouter[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

/** A router on this file's set; `urls` is the replica list it reads (a static list by default). */
function makeRouter(
  overrides: Record<string, string> = {},
  options: { urls?: () => string[]; redis?: Redis } = {},
) {
  const config = loadConfig(
    testEnv(db.url, {
      DATABASE_REPLICA_URLS: replicaUrl,
      DATABASE_REPLICA_HEALTH_INTERVAL_MS: '100',
      DATABASE_REPLICA_MAX_LAG_MS: '60000',
      DATABASE_REPLICA_RYW_TTL_MS: '120000',
      DATABASE_REPLICA_POOL_MAX: '2',
      REDIS_KEY_PREFIX: `${uniqueName('ryw')}:`,
      ...overrides,
    }),
  );
  const { logger, logs } = memoryLogger();
  const metrics = createMetrics();
  const client = options.redis ?? redis;
  const made = replicaRouter({
    config,
    primary,
    replicas: { urls: options.urls ?? (() => [replicaUrl]), stop: () => undefined },
    guard: appRedisGuard(client, config, logger),
    logger,
    metrics,
  });
  routers.push(made);
  return { router: made, logs, metrics };
}

/** A fresh unit of work on the primary, as a request gets. */
const em = (): EntityManager => primary.em.fork();

/** Where a source's statements really run, as that server reports it. */
async function ranOn(source: ReadSource): Promise<'primary' | 'replica'> {
  const [row] = await source.all<{ standby: boolean }>('select pg_is_in_recovery() as standby');
  return row!.standby ? 'replica' : 'primary';
}

async function notes(source: ReadSource): Promise<string[]> {
  const rows = await source.all<{ note: string }>('select note from probe order by id');
  return rows.map((r) => r.note);
}

/** Commits a row on the primary (as user `userId`'s write request would) and records it. */
async function write(note: string, by?: { router: ReplicaRouter; userId: number }) {
  await primary.em.getConnection().execute('insert into probe (note) values (?)', [note]);
  if (by) await by.router.recordWrite(by.userId);
}

beforeAll(async () => {
  replicated = await startReplicatedTestDatabase();
  ({ set, db, replicaUrl } = replicated);
  primary = await connectOrm({
    DATABASE_URL: db.url,
    DATABASE_SSL: 'disable',
    DATABASE_POOL_MAX: 4,
  });
  await primary.em
    .getConnection()
    .execute('create table probe (id serial primary key, note text not null)');
  await set.replica.catchUp();
  redis = createRedis(loadConfig(testEnv(db.url)), memoryLogger().logger);
  await redis.connect();
}, 90_000);

afterAll(async () => {
  await Promise.allSettled(routers.map((r) => r.stop()));
  await Promise.allSettled(cleanups.map((c) => c()));
  redis?.disconnect();
  await primary?.close(true);
  await replicated?.remove();
});

describe('where reads land', () => {
  it('when the replica is healthy, then anonymous reads and reads of a user with no recent write run on it', async () => {
    const { router } = makeRouter();
    await router.start();
    expect(router.health()).toEqual([
      expect.objectContaining({ healthy: true, lagMs: expect.any(Number) }),
    ]);
    const anonymous = await router.route({ em: em(), userId: null });
    expect({ role: anonymous.role, ran: await ranOn(anonymous) }).toEqual({
      role: 'replica',
      ran: 'replica',
    });
    expect(anonymous.replayLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    const signedIn = await router.route({ em: em(), userId: 101 });
    expect(await ranOn(signedIn)).toBe('replica');
  });

  it('when the unit of work writes (a write request or a transaction), then its reads run on the primary', async () => {
    const { router } = makeRouter();
    await router.start();
    const request = em();
    router.pinToPrimary(request);
    expect(await ranOn(await router.route({ em: request, userId: 7 }))).toBe('primary');
    await em().transactional(async (trx) => {
      const source = await router.route({ em: trx, userId: null });
      expect({ role: source.role, ran: await ranOn(source) }).toEqual({
        role: 'primary',
        ran: 'primary',
      });
    });
  });
});

describe('read-your-writes and monotonic reads, with replay paused', () => {
  it("when a user writes, then their next read sees it (on the primary) while another user's read may lag", async () => {
    const { router } = makeRouter();
    await router.start();
    const writer = 201;
    const other = 202;
    await set.replica.whilePaused(async () => {
      await write('mine', { router, userId: writer });
      const theirs = await router.route({ em: em(), userId: writer });
      expect({ role: theirs.role, sees: (await notes(theirs)).includes('mine') }).toEqual({
        role: 'primary',
        sees: true,
      });
      // Another user (and an anonymous reader) read the paused replica: the write is not there yet.
      const others = await router.route({ em: em(), userId: other });
      expect({ role: others.role, sees: (await notes(others)).includes('mine') }).toEqual({
        role: 'replica',
        sees: false,
      });
      const anonymous = await router.route({ em: em(), userId: null });
      expect((await notes(anonymous)).includes('mine')).toBe(false);
    });
    // Once the replica has replayed the write, the writer reads from it again.
    await router.check();
    const after = await router.route({ em: em(), userId: writer });
    expect({ role: after.role, sees: (await notes(after)).includes('mine') }).toEqual({
      role: 'replica',
      sees: true,
    });
  });

  it('when another task recorded the write (shared Redis), then this task also routes the user to a fresh source', async () => {
    const prefix = { REDIS_KEY_PREFIX: `${uniqueName('shared')}:` };
    const taskA = makeRouter(prefix).router;
    const taskB = makeRouter(prefix).router;
    await Promise.all([taskA.start(), taskB.start()]);
    await set.replica.whilePaused(async () => {
      await write('via task A', { router: taskA, userId: 301 });
      const source = await taskB.route({ em: em(), userId: 301 });
      expect(await notes(source)).toContain('via task A');
    });
  });

  it("when a user's read had to use the primary and saw someone else's newer write, then their later reads never go back before it", async () => {
    let urls: string[] = [];
    const { router } = makeRouter({}, { urls: () => urls });
    await router.start();
    const reader = 401;
    await set.replica.whilePaused(async () => {
      await write('someone else wrote'); // not the reader's write, and not replayed yet
      // No replica known yet: the read runs on the primary and shows the new row.
      const first = await router.route({ em: em(), userId: reader });
      expect({
        role: first.role,
        sees: (await notes(first)).includes('someone else wrote'),
      }).toEqual({ role: 'primary', sees: true });
      // The replica appears, healthy within the lag bound but without that row: the reader stays
      // on the primary, while a reader who never saw it may read the replica.
      urls = [replicaUrl];
      await router.check();
      const second = await router.route({ em: em(), userId: reader });
      expect({
        role: second.role,
        sees: (await notes(second)).includes('someone else wrote'),
      }).toEqual({ role: 'primary', sees: true });
      expect((await router.route({ em: em(), userId: 402 })).role).toBe('replica');
    });
  });

  it('when the floors cannot be read or written (Redis down), then signed-in reads go to the primary and anonymous ones still to the replica', async () => {
    const deadRedis = createRedis(
      loadConfig(testEnv(db.url, { REDIS_URL: `redis://127.0.0.1:${await freePort()}` })),
      memoryLogger().logger,
    );
    cleanups.push(async () => deadRedis.disconnect());
    await deadRedis.connect().catch(() => undefined);
    const { router, logs } = makeRouter({}, { redis: deadRedis });
    await router.start();
    expect((await router.route({ em: em(), userId: 501 })).role).toBe('primary');
    expect((await router.route({ em: em(), userId: null })).role).toBe('replica');
    await router.recordWrite(501);
    expect(logs.map((l) => l.msg)).toContain(
      'could not record a write for read-your-writes; signed-in reads use the primary for now',
    );
    expect((await router.route({ em: em(), userId: 502 })).role).toBe('primary');
  });
});

describe('replica health', () => {
  it('when replay is paused and the replica falls behind the lag bound, then it is skipped, and used again once it catches up', async () => {
    const { router, logs, metrics } = makeRouter({
      DATABASE_REPLICA_MAX_LAG_MS: '300',
      DATABASE_REPLICA_RYW_TTL_MS: '5000',
    });
    await router.start();
    expect((await router.route({ em: em(), userId: null })).role).toBe('replica');
    await set.replica.whilePaused(async () => {
      await write('while paused');
      await until(async () => {
        await router.check();
        return router.health()[0]!.healthy === false;
      });
      expect(router.health()[0]!.reason).toMatch(/^lags \d+ ms$/);
      const source = await router.route({ em: em(), userId: null });
      expect({ role: source.role, sees: (await notes(source)).includes('while paused') }).toEqual({
        role: 'primary',
        sees: true,
      });
    });
    await until(async () => {
      await router.check();
      return router.health()[0]!.healthy;
    });
    expect((await router.route({ em: em(), userId: null })).role).toBe('replica');
    expect(logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        'read replica skipped until it recovers',
        'read replica healthy: reading from it',
      ]),
    );
    const reads = await metrics.getSingleMetricAsString('plinth_db_reads_total');
    expect(reads).toMatch(/role="primary",reason="no-healthy-replica",viewer="anonymous"} 1/);
  });

  it('when the replica is stopped, then it is skipped (a read already routed to it is answered by the primary), and used again after it starts', async () => {
    const { router } = makeRouter();
    await router.start();
    const routed = await router.route({ em: em(), userId: null });
    expect(routed.role).toBe('replica');
    await set.replica.stop();
    try {
      expect(await ranOn(routed)).toBe('primary');
      expect(router.health()[0]).toMatchObject({ healthy: false, reason: /read failed/ });
      await router.check();
      expect(router.health()[0]!.healthy).toBe(false);
      expect((await router.route({ em: em(), userId: 601 })).role).toBe('primary');
    } finally {
      await set.replica.start();
    }
    await until(async () => {
      await router.check();
      return router.health()[0]!.healthy;
    }, 30_000);
    expect(await ranOn(await router.route({ em: em(), userId: null }))).toBe('replica');
  }, 60_000);

  it('when discovery adds a replica later or removes it, then reads follow without a restart', async () => {
    let urls: string[] = [];
    const { router } = makeRouter({}, { urls: () => urls });
    await router.start();
    expect(router.health()).toEqual([]);
    expect((await router.route({ em: em(), userId: null })).role).toBe('primary');
    urls = [replicaUrl];
    await router.check();
    expect(await ranOn(await router.route({ em: em(), userId: null }))).toBe('replica');
    urls = [];
    await router.check();
    expect(router.health()).toEqual([]);
    expect((await router.route({ em: em(), userId: null })).role).toBe('primary');
  });
});

describe('cache misses on a replica', () => {
  it('when the replica has not replayed the last invalidation, then the miss is read from the primary (and filled); once it has, the replica answers and fills', async () => {
    const { router } = makeRouter();
    await router.start();
    const config = loadConfig(testEnv(db.url, { REDIS_KEY_PREFIX: `${uniqueName('fill')}:` }));
    const cache = new ReadCache(
      appRedisGuard(redis, config, memoryLogger().logger),
      config,
      createMetrics(),
      () => router.walPosition(),
    );
    const read = (id: string, source: ReadSource) =>
      cache.read({ read: 'tags', generations: ['tags'], id }, source, async () => {
        const value = await notes(source);
        return { value, text: JSON.stringify(value), cacheable: true };
      });
    await set.replica.whilePaused(async () => {
      await write('invalidating write');
      await cache.bump(['tags']);
      const behind = await router.route({ em: em(), userId: null });
      expect(behind.role).toBe('replica');
      const first = await read('probe', behind);
      // Served (and filled) by the primary: the replica lacks what the invalidation was for.
      expect({
        role: behind.role,
        fresh: JSON.parse(first.text).includes('invalidating write'),
      }).toEqual({ role: 'primary', fresh: true });
      expect((await read('probe', behind)).hit).toBe(true);
    });
    await router.check();
    const caughtUp = await router.route({ em: em(), userId: null });
    const filled = await read('probe-2', caughtUp);
    expect({
      role: caughtUp.role,
      hit: filled.hit,
      fresh: JSON.parse(filled.text).includes('invalidating write'),
    }).toEqual({ role: 'replica', hit: false, fresh: true });
    expect((await read('probe-2', caughtUp)).hit).toBe(true);
  });
});
