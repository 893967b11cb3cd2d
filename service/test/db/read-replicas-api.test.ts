// The API with replica routing on, against a real streaming replica whose replay the tests pause:
// authorization is decided on the primary, write requests record the user's floor before they
// are answered, and a token-only client reads its own writes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sortableLsn } from '../../src/db/lsn.js';
import { connectOrm } from '../../src/db/orm.js';
import type { Account } from '../support/client.js';
import type { TestDatabase } from '../support/database.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  startReplicatedTestDatabase,
  type PrivateReplicaSet,
  type ReplicatedTestDatabase,
} from '../support/stores.js';
import { until } from '../support/wait.js';

let replicated: ReplicatedTestDatabase;
let set: PrivateReplicaSet;
let db: TestDatabase;
let server: TestServer;
let admin: Account;
let replicaDbUrl: string;

async function userId(username: string): Promise<number> {
  const [row] = await server.sql<{ id: number }>('select id from users where username = ?', [
    username,
  ]);
  return row!.id;
}

/** The WAL position the primary has written now. */
async function primaryLsn(): Promise<string> {
  const [row] = await server.sql<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
  return row!.lsn;
}

beforeAll(async () => {
  replicated = await startReplicatedTestDatabase();
  ({ set, db, replicaUrl: replicaDbUrl } = replicated);
  server = await startTestServer(
    {
      DATABASE_REPLICA_URLS: replicaDbUrl,
      DATABASE_REPLICA_HEALTH_INTERVAL_MS: '200',
      // Replay is paused for seconds at a time here; the replica must stay in use meanwhile.
      DATABASE_REPLICA_MAX_LAG_MS: '60000',
      DATABASE_REPLICA_RYW_TTL_MS: '120000',
      // Every read reaches a database here, so where it ran is what the tests see (with the cache
      // on, a miss behind an invalidation is read from the primary: replica-router.test.ts).
      CACHE_ENABLED: 'false',
    },
    { databaseUrl: db.url },
  );
  admin = await server.register('admin', 'admin');
}, 90_000);

afterAll(async () => {
  await server?.close();
  await replicated?.remove();
});

/** Scans of the `articles` table that the server at `url` (primary or replica) has counted. */
async function articleScans(url: string): Promise<number> {
  const orm = await connectOrm({
    DATABASE_URL: url,
    DATABASE_SSL: 'disable',
    DATABASE_POOL_MAX: 1,
  });
  try {
    const [row] = await orm.em
      .getConnection()
      .execute<{ scans: string }[]>(
        "select coalesce(seq_scan, 0) + coalesce(idx_scan, 0) as scans from pg_stat_user_tables where relname = 'articles'",
      );
    return Number(row!.scans);
  } finally {
    await orm.close(true);
  }
}

/** The count once it stops moving: a backend reports its statistics up to a second late. */
async function settledScans(url: string): Promise<number> {
  let previous = -1;
  let current = await articleScans(url);
  while (current !== previous) {
    await new Promise((r) => setTimeout(r, 1200));
    previous = current;
    current = await articleScans(url);
  }
  return current;
}

describe('where reads land', () => {
  it("when anyone lists articles, then the statements run on the replica, as PostgreSQL's statistics show", async () => {
    const author = await server.register('lister');
    await server.api.createArticle(author.token, { title: 'Listed' });
    await set.replica.catchUp();
    await server.replicas!.check();
    const before = {
      primary: await settledScans(db.url),
      replica: await settledScans(replicaDbUrl),
    };
    for (const options of [{}, { token: author.token }]) {
      const res = await server.api.get(`/articles?author=${author.username}`, options);
      expect(res.body.articlesCount).toBe(1);
    }
    // Statistics reach the views within a second or so of the statement.
    await until(async () => (await articleScans(replicaDbUrl)) > before.replica, 10_000);
    expect(await articleScans(db.url)).toBe(before.primary);
  });
});

describe('authorization always reads the primary', () => {
  it('when a user is suspended while replay is paused, then their very next request is refused', async () => {
    const user = await server.register('suspendee');
    await set.replica.catchUp();
    await set.replica.whilePaused(async () => {
      const suspended = await server.api.post(`/admin/users/${user.username}/suspension`, {
        token: admin.token,
      });
      expect(suspended.status).toBe(200);
      const next = await server.api.get('/user', { token: user.token });
      expect(next.status).toBe(401);
      const read = await server.api.get('/articles', { token: user.token });
      expect(read.status).toBe(401);
    });
  });

  it('when a user logs out everywhere while replay is paused, then the old token is refused at once', async () => {
    const user = await server.register('leaver');
    await set.replica.catchUp();
    await set.replica.whilePaused(async () => {
      // Tokens carry their issue time in whole milliseconds; revocation is for tokens before it.
      await new Promise((r) => setTimeout(r, 5));
      expect((await server.api.delete('/sessions', { token: user.token })).status).toBe(204);
      expect((await server.api.get('/user', { token: user.token })).status).toBe(401);
    });
  });
});

describe('read-your-writes for a token-only client', () => {
  it("when a client writes, then the response goes out after its floor is recorded, its next reads see the write while the replica lags, and other users' reads lag", async () => {
    const author = await server.register('author');
    const reader = await server.register('reader');
    await set.replica.catchUp();
    await set.replica.whilePaused(async () => {
      const article = await server.api.createArticle(author.token, { title: 'Fresh while paused' });
      const id = await userId(author.username);
      const floor = await server.redis.get(`${server.config.REDIS_KEY_PREFIX}ryw:${id}`);
      const lsn = await primaryLsn();
      expect(floor).toMatch(/^[0-9A-F]{16}$/);
      expect(floor! <= sortableLsn(lsn)).toBe(true);
      const replayed = server.replicas!.health()[0]!.replayLsn!;
      expect(floor! > sortableLsn(replayed)).toBe(true);

      // Everyone else reads the paused replica, which has not replayed it yet.
      const others = await Promise.all([
        server.api.get(`/articles/${article.slug}`, { token: reader.token }),
        server.api.get(`/articles/${article.slug}`),
      ]);
      expect(others.map((r) => r.status)).toEqual([404, 404]);
      const read = await server.api.get(`/articles/${article.slug}`, { token: author.token });
      expect({ status: read.status, title: read.body.article?.title }).toEqual({
        status: 200,
        title: 'Fresh while paused',
      });
      const list = await server.api.get(`/articles?author=${author.username}`, {
        token: author.token,
      });
      expect(list.body.articlesCount).toBe(1);
    });
  });

  it('when an anonymous request registers a user, then the new user gets a floor too (their first reads see the account)', async () => {
    await set.replica.whilePaused(async () => {
      const account = await server.api.register('newcomer');
      const id = await userId(account.username);
      const floor = await server.redis.get(`${server.config.REDIS_KEY_PREFIX}ryw:${id}`);
      const replayed = server.replicas!.health()[0]!.replayLsn!;
      expect(floor! > sortableLsn(replayed)).toBe(true);
      const profile = await server.api.get(`/profiles/${account.username}`, {
        token: account.token,
      });
      expect(profile.status).toBe(200);
    });
  });
});
