import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Account } from '../support/client.js';
import { uniqueName } from '../support/env.js';
import { report } from '../support/report.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * The read cache never answers with data older than an acknowledged write (docs/read-path.md):
 * two app instances on one database share one cache Redis; a writer updates an article through
 * either, readers read it (single article, list, comments) through either, in interleavings
 * chosen by fast-check's scheduler.
 */
let a: TestServer;
let b: TestServer;
let author: Account;

beforeAll(async () => {
  const shared = { LOG_LEVEL: 'warn', REDIS_KEY_PREFIX: `${uniqueName('cc')}:` };
  a = await startTestServer(shared);
  b = await startTestServer(shared, { databaseUrl: a.db.url });
  author = await a.register('ccauthor', 'author');
}, 60_000);
afterAll(async () => {
  await b?.close();
  await a?.close();
});

type Read = 'article' | 'list' | 'comments';

interface Observation {
  /** Logical time when the read was issued and answered. */
  start: number;
  end: number;
  /** The newest write acknowledged when the read was issued. */
  ackedAtStart: number;
  version: number;
  what: string;
}

describe('read cache across two instances', () => {
  it('when writes and reads interleave through two instances, then every read is at least as new as the writes acknowledged before it, and no read is older than one that ended before it began', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.constantFrom(0, 1), { minLength: 1, maxLength: 4 }),
        fc.array(
          fc.record({
            read: fc.constantFrom<Read>('article', 'list', 'comments'),
            via: fc.constantFrom(0, 1),
          }),
          { minLength: 2, maxLength: 12 },
        ),
        async (s, writes, reads) => {
          runs += 1;
          const servers = [a, b];
          const tag = uniqueName('cc').toLowerCase();
          const article = await a.api.createArticle(author.token, {
            title: `Consistency ${tag}`,
            description: 'v0',
            tagList: [tag],
          });
          const slug = article.slug as string;
          // Warm every cached read through both instances, so stale values exist to be served.
          for (const server of servers) {
            await server.api.get(`/articles/${slug}`);
            await server.api.get(`/articles?tag=${tag}`);
            await server.api.get(`/articles/${slug}/comments`);
          }
          let clock = 0;
          let acked = 0;
          const observations: Observation[] = [];

          const readVersion = async (read: Read, server: TestServer): Promise<number> => {
            if (read === 'article') {
              const res = await server.api.get(`/articles/${slug}`);
              return Number(String(res.body.article.description).slice(1));
            }
            if (read === 'list') {
              const res = await server.api.get(`/articles?tag=${tag}`);
              return Number(String(res.body.articles[0].description).slice(1));
            }
            // Each write also adds a comment: the count is the version.
            const res = await server.api.get(`/articles/${slug}/comments`);
            return (res.body.comments as unknown[]).length;
          };

          const writer = (async () => {
            for (let k = 1; k <= writes.length; k++) {
              await s.schedule(Promise.resolve(), `write v${k} via ${writes[k - 1]}`);
              const server = servers[writes[k - 1]!]!;
              const put = await server.api.put(`/articles/${slug}`, {
                token: author.token,
                body: { article: { description: `v${k}` } },
              });
              expect(put.status).toBe(200);
              const comment = await server.api.post(`/articles/${slug}/comments`, {
                token: author.token,
                body: { comment: { body: `c${k}` } },
              });
              expect(comment.status).toBe(200);
              acked = k;
              clock += 1;
            }
          })();
          const readers = reads.map(async (r, i) => {
            await s.schedule(Promise.resolve(), `read ${i}: ${r.read} via ${r.via}`);
            const start = ++clock;
            const ackedAtStart = acked;
            const version = await readVersion(r.read, servers[r.via]!);
            observations.push({
              start,
              end: ++clock,
              ackedAtStart,
              version,
              what: `${r.read} via ${r.via}`,
            });
          });
          await s.waitFor(Promise.all([writer, ...readers]));

          for (const o of observations) {
            // Read-after-acknowledged-write.
            expect({ ...o, fresh: o.version >= o.ackedAtStart }).toMatchObject({ fresh: true });
          }
          for (const read of ['article', 'list', 'comments'] as const) {
            const mine = observations.filter((o) => o.what.startsWith(read));
            for (const earlier of mine) {
              for (const later of mine) {
                if (earlier.end < later.start) {
                  // No older version after a newer one.
                  expect({
                    earlier,
                    later,
                    monotonic: later.version >= earlier.version,
                  }).toMatchObject({ monotonic: true });
                }
              }
            }
          }
          // Once everything is acknowledged, both instances answer the last version.
          for (const server of servers) {
            for (const read of ['article', 'list', 'comments'] as const) {
              expect(await readVersion(read, server)).toBe(writes.length);
            }
          }
        },
      ),
      { numRuns: 12 },
    );
    report(`cache consistency: ${runs} interleavings through two instances`);
  }, 240_000);
});
