import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import newman, { type NewmanRunSummary } from 'newman';
import { REALWORLD_DIR } from '../support/paths.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { report } from '../support/report.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ LOG_LEVEL: 'warn' });
});
afterAll(() => server.close());

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

describe('RealWorld conformance suite (newman)', () => {
  it('passes every request and assertion against a real listening server', async () => {
    const summary = await runCollection(`${server.baseUrl}/api`);
    const { requests, assertions } = summary.run.stats;
    const failures = summary.run.failures.map(
      (f) => `${f.source?.name ?? '?'}: ${f.error?.test ?? ''} ${f.error?.message ?? ''}`,
    );
    report(
      `newman: ${requests.total} requests (${requests.failed} failed), ` +
        `${assertions.total} assertions (${assertions.failed} failed)`,
    );
    expect(failures).toEqual([]);
    expect(requests.total).toBeGreaterThanOrEqual(30);
    expect(assertions.failed).toBe(0);
    expect(assertions.total).toBeGreaterThan(200);
  }, 60_000);
});
