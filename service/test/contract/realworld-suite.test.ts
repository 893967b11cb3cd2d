import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import newman, { type NewmanRunSummary } from 'newman';
import { REALWORLD_DIR } from '../support/paths.js';
import { freePort } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { report } from '../support/report.js';

let server: TestServer;
/** The same app whose cache Redis is down (a port nobody listens on): the cache fails open. */
let withoutCache: TestServer;
beforeAll(async () => {
  server = await startTestServer({ LOG_LEVEL: 'warn' });
  withoutCache = await startTestServer({
    LOG_LEVEL: 'warn',
    REDIS_CACHE_URL: `redis://127.0.0.1:${await freePort()}`,
  });
}, 60_000);
afterAll(async () => {
  await server.close();
  await withoutCache?.close();
});

function runCollection(apiUrl: string): Promise<NewmanRunSummary> {
  const run = `${process.pid}${Date.now().toString(36)}`;
  return new Promise((resolve, reject) => {
    newman.run(
      {
        collection: path.join(REALWORLD_DIR, 'Conduit.postman_collection.json'),
        globals: {
          values: [
            { key: 'APIURL', value: apiUrl, type: 'text' },
            { key: 'USERNAME', value: `u${run}`, type: 'text' },
            { key: 'EMAIL', value: `u${run}@example.com`, type: 'text' },
            { key: 'PASSWORD', value: 'password-for-the-suite', type: 'text' },
          ],
        },
        reporters: [],
      },
      (err, summary) => (err ? reject(err) : resolve(summary)),
    );
  });
}

async function passesSuite(apiUrl: string, label: string): Promise<void> {
  const summary = await runCollection(apiUrl);
  const { requests, assertions } = summary.run.stats;
  const failures = summary.run.failures.map(
    (f) => `${f.source?.name ?? '?'}: ${f.error?.test ?? ''} ${f.error?.message ?? ''}`,
  );
  report(
    `newman${label}: ${requests.total} requests (${requests.failed} failed), ` +
      `${assertions.total} assertions (${assertions.failed} failed)`,
  );
  expect(failures).toEqual([]);
  expect(requests.total).toBeGreaterThanOrEqual(30);
  expect(assertions.failed).toBe(0);
  expect(assertions.total).toBeGreaterThan(200);
}

describe('RealWorld conformance suite (newman)', () => {
  it('passes every request and assertion against a real listening server', async () => {
    await passesSuite(`${server.baseUrl}/api`, '');
  }, 60_000);

  it('when the cache Redis is unreachable, then it still passes every request and assertion', async () => {
    await passesSuite(`${withoutCache.baseUrl}/api`, ' (cache Redis down)');
    // It really ran without the cache: the cache client's guard opened its circuit.
    expect(withoutCache.logs.map((l) => String(l.msg))).toContain(
      'Redis unavailable: commands fail fast (circuit open), one trial every openMs',
    );
  }, 60_000);
});
