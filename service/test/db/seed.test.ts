import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig } from '../../src/config.js';
import { connectOrm } from '../../src/db/orm.js';
import { buildSeedPlan } from '../../src/db/seed-data.js';
import { DEMO_USER, seed } from '../../src/db/seed.js';
import { Passwords } from '../../src/modules/users/passwords.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { testEnv } from '../support/env.js';
import { REPO_ROOT } from '../support/paths.js';
import { startTestServer } from '../support/server.js';

let db: TestDatabase;
let orm: MikroORM;
let script: { code: number | null; stdout: string; stderr: string };

/** The real `npm run seed` entry, as the image runs it, with its own environment. */
function runSeedScript(env: NodeJS.ProcessEnv) {
  return new Promise<typeof script>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'service/src/db/seed.ts'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function count(sql: string): Promise<number> {
  const [row] = await orm.em.fork().execute<{ n: string }[]>(sql);
  return Number(row!.n);
}

const TABLES = ['users', 'tags', 'articles', 'article_tags', 'follows', 'favorites', 'comments'];
const tableCounts = async () =>
  Object.fromEntries(
    await Promise.all(TABLES.map(async (t) => [t, await count(`select count(*) n from ${t}`)])),
  );

// One full seed for the whole file (the real script, under NODE_ENV=production); every
// assertion below reads the database it produced.
beforeAll(async () => {
  db = await createTestDatabase();
  script = await runSeedScript(
    testEnv(db.url, { NODE_ENV: 'production', LOG_LEVEL: 'info', APP_ENV: 'prod' }),
  );
  orm = await connectOrm({ DATABASE_URL: db.url, DATABASE_SSL: 'disable', DATABASE_POOL_MAX: 4 });
}, 60_000);

afterAll(async () => {
  await orm?.close(true);
  await db?.drop();
});

describe('npm run seed on an empty database', () => {
  it('when run under NODE_ENV=production, then it exits 0 and prints the demo login', () => {
    expect(script.stderr).toBe('');
    expect(script.code).toBe(0);
    expect(script.stdout).toContain('seed complete');
    expect(script.stdout).toContain(
      `demo login: email ${DEMO_USER.email} (username ${DEMO_USER.username}), password ${DEMO_USER.password}`,
    );
  });

  it('then it created at least 50 users, 500 articles and 5,000 comments, plus follows and favorites', async () => {
    const counts = await tableCounts();
    expect(counts.users).toBeGreaterThanOrEqual(50);
    expect(counts.articles).toBeGreaterThanOrEqual(500);
    expect(counts.comments).toBeGreaterThanOrEqual(5000);
    expect(counts.follows).toBeGreaterThan(0);
    expect(counts.favorites).toBeGreaterThan(0);
  });

  it('then every article has 1 to 4 tags, drawn from 20 to 40 distinct tags', async () => {
    const [range] = await orm.em.fork().execute<{ min: number; max: number }[]>(
      `select min(n)::int as min, max(n)::int as max from (
         select count(at.tag_id) n from articles a
         left join article_tags at on at.article_id = a.id group by a.id) per_article`,
    );
    expect(range).toEqual({ min: 1, max: 4 });
    const tags = await count('select count(distinct tag_id) n from article_tags');
    expect(tags).toBeGreaterThanOrEqual(20);
    expect(tags).toBeLessThanOrEqual(40);
  });

  it('then favorites_count equals the favorite rows of every article', async () => {
    const mismatched = await count(
      `select count(*) n from articles a
       where a.favorites_count <> (select count(*) from favorites f where f.article_id = a.id)`,
    );
    expect(mismatched).toBe(0);
    expect(
      await count('select count(*) n from articles where favorites_count > 1'),
    ).toBeGreaterThan(0);
  });

  it('then each user follows 5 to 15 others and never themselves', async () => {
    const [range] = await orm.em.fork().execute<{ min: number; max: number }[]>(
      `select min(n)::int as min, max(n)::int as max from (
         select count(f.followee_id) n from users u
         left join follows f on f.follower_id = u.id group by u.id) per_user`,
    );
    expect(range!.min).toBeGreaterThanOrEqual(5);
    expect(range!.max).toBeLessThanOrEqual(15);
    expect(await count('select count(*) n from follows where follower_id = followee_id')).toBe(0);
  });

  it('then comments are spread over many articles and dates spread over most of a year', async () => {
    expect(await count('select count(distinct article_id) n from comments')).toBeGreaterThan(250);
    const days = await count(
      `select extract(day from max(created_at) - min(created_at)) n from articles`,
    );
    expect(days).toBeGreaterThan(240);
    // Nothing happens before its parent exists: lists and feeds stay plausible.
    expect(
      await count(
        `select count(*) n from comments c join articles a on a.id = c.article_id
         where c.created_at < a.created_at`,
      ),
    ).toBe(0);
  });

  it('then the demo user logs in through the API and has a non-empty feed', async () => {
    const server = await startTestServer({}, { databaseUrl: db.url });
    try {
      const login = await server.api.post('/users/login', {
        body: { user: { email: DEMO_USER.email, password: DEMO_USER.password } },
      });
      expect(login.status).toBe(200);
      expect(login.body.user.username).toBe(DEMO_USER.username);
      const feed = await server.api.get('/articles/feed?limit=5', { token: login.body.user.token });
      expect(feed.status).toBe(200);
      expect(feed.body.articlesCount).toBeGreaterThan(0);
      const dates = feed.body.articles.map((a: { createdAt: string }) => a.createdAt);
      expect(dates).toEqual([...dates].sort().reverse());
    } finally {
      await server.close();
    }
  }, 30_000);
});

describe('seed on an already seeded database', () => {
  it('when it runs again, then it reports skipped and no row changes', async () => {
    const before = await tableCounts();
    const config = loadConfig(testEnv(db.url));
    const result = await seed(orm, { passwords: new Passwords(config) });
    expect(result.skipped).toBe(true);
    expect(Object.values(result.counts).every((n) => n === 0)).toBe(true);
    expect(await tableCounts()).toEqual(before);
  }, 30_000);
});

describe('seed data', () => {
  it('when built twice with the same seed, then it is identical (fixed faker seed)', () => {
    const now = new Date('2026-06-01T00:00:00Z');
    const small = { users: 10, articles: 40, comments: 100, now };
    const first = buildSeedPlan(small);
    expect(buildSeedPlan(small)).toEqual(first);
    expect(buildSeedPlan({ ...small, randomSeed: 1 })).not.toEqual(first);
    expect(new Set(first.articles.map((a) => a.slug)).size).toBe(first.articles.length);
    expect(first.articles[0]!.slug).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
  });
});
