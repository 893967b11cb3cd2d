import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseSmokeArgs, smoke } from '../../../infra/release/smoke.js';
import { REALWORLD_DIR } from '../support/paths.js';
import { freePort } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';

const collection = path.join(REALWORLD_DIR, 'Conduit.postman_collection.json');
const quiet = () => undefined;

/** The release `smoke` program's RealWorld suite: the gate a stage's deploy must pass. */
describe('release step: smoke --suite realworld', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ LOG_LEVEL: 'warn' });
  });
  afterAll(() => server.close());

  const args = (url: string) => ['--url', url, '--suite', 'realworld', '--collection', collection];

  it('passes (exit 0) against a conforming API, with a fresh user per run', async () => {
    const options = { ...parseSmokeArgs(args(server.baseUrl)), newmanReport: false };
    expect(await smoke(options, quiet)).toBe(0);
    // A second run registers another user, so the gate can run after every deploy.
    expect(await smoke(options, quiet)).toBe(0);
  }, 60_000);

  it('fails (exit 1) when the API does not answer', async () => {
    const nothing = `http://127.0.0.1:${await freePort()}`;
    expect(await smoke({ ...parseSmokeArgs(args(nothing)), newmanReport: false }, quiet)).toBe(1);
  }, 60_000);
});
