// Two API instances sharing one primary, its real streaming replica and one Redis, with replica
// lag injected (replay paused and resumed at generated points): whatever the interleaving, every
// user reads their own acknowledged writes on either instance (read-your-writes), and what a user
// sees never goes back in time (monotonic reads). Reproduce a run with FC_SEED=<seed>.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Account } from '../support/client.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { uniqueName } from '../support/env.js';
import { report } from '../support/report.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startPrivateReplicaSet, type PrivateReplicaSet } from '../support/stores.js';

const SEED = process.env.FC_SEED
  ? Number(process.env.FC_SEED)
  : Date.now() ^ (Math.random() * 2 ** 31);
const RUNS = 4;
const USERS = 3;

type Step =
  | { kind: 'write'; user: number; instance: number }
  | { kind: 'read'; user: number; instance: number }
  | { kind: 'pause' }
  | { kind: 'resume' };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      user: fc.nat(USERS - 1),
      instance: fc.nat(1),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      user: fc.nat(USERS - 1),
      instance: fc.nat(1),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'pause' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'resume' as const }) },
);

let set: PrivateReplicaSet;
let db: TestDatabase;

beforeAll(async () => {
  set = await startPrivateReplicaSet();
  db = await createTestDatabase({ serverUrl: set.primary.url });
  await set.replica.catchUp();
}, 90_000);

afterAll(async () => {
  await db?.drop();
  await set?.remove();
});

/** Two instances as two API tasks: same database, replica and Redis prefix. */
async function twoInstances(cache: boolean): Promise<TestServer[]> {
  const replicaUrl = new URL(set.replica.url);
  replicaUrl.pathname = new URL(db.url).pathname;
  const env = {
    DATABASE_REPLICA_URLS: replicaUrl.toString(),
    DATABASE_REPLICA_HEALTH_INTERVAL_MS: '200',
    // The injected lag lasts seconds: the replica stays in use meanwhile.
    DATABASE_REPLICA_MAX_LAG_MS: '60000',
    DATABASE_REPLICA_RYW_TTL_MS: '120000',
    REDIS_KEY_PREFIX: `${uniqueName('two')}:`,
    CACHE_ENABLED: String(cache),
    LOG_LEVEL: 'warn',
  };
  return Promise.all([0, 1].map(() => startTestServer(env, { databaseUrl: db.url })));
}

describe.each([
  ['cache off', false],
  ['cache on', true],
])('two instances with replica lag injected (%s)', (_, cache) => {
  it('each user reads their own writes on either instance, and their reads never go back in time', async () => {
    const instances = await twoInstances(cache);
    let paused = false;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 8, maxLength: 16 }), async (steps) => {
          // Fresh users per run, so a run's expectations start from nothing.
          const users: Account[] = [];
          for (let u = 0; u < USERS; u++) users.push(await instances[u % 2]!.register('ryw'));
          const written: string[][] = users.map(() => []);
          const seen: Set<string>[] = users.map(() => new Set());
          try {
            for (const s of steps) {
              if (s.kind === 'pause' && !paused) {
                await set.replica.pauseReplay();
                paused = true;
              } else if (s.kind === 'resume' && paused) {
                await set.replica.resumeReplay();
                paused = false;
              } else if (s.kind === 'write') {
                const article = await instances[s.instance]!.api.createArticle(
                  users[s.user]!.token,
                  {
                    title: `ryw ${uniqueName('a')}`,
                  },
                );
                written[s.user]!.push(article.slug as string);
              } else if (s.kind === 'read') {
                const user = users[s.user]!;
                const res = await instances[s.instance]!.api.get('/articles?limit=100', {
                  token: user.token,
                });
                expect(res.status).toBe(200);
                const slugs = new Set<string>(
                  (res.body.articles as { slug: string }[]).map((a) => a.slug),
                );
                // Read-your-writes: every acknowledged write of this user is there.
                expect(written[s.user]!.filter((slug) => !slugs.has(slug))).toEqual([]);
                // Monotonic reads: nothing this user saw before has disappeared (no deletes here).
                expect([...seen[s.user]!].filter((slug) => !slugs.has(slug))).toEqual([]);
                for (const slug of slugs) seen[s.user]!.add(slug);
              }
            }
          } finally {
            if (paused) {
              await set.replica.resumeReplay();
              paused = false;
            }
            await set.replica.catchUp();
          }
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
      // The replica was in use throughout (healthy on both instances), so the reads were routed.
      for (const instance of instances) {
        expect(instance.replicas!.health()).toEqual([expect.objectContaining({ healthy: true })]);
      }
      report(`two instances (${cache ? 'cache on' : 'cache off'}): seed ${SEED}, ${RUNS} runs`);
    } finally {
      await Promise.all(instances.map((i) => i.close()));
    }
  }, 180_000);
});
