import { afterEach, describe, expect, it } from '@jest/globals';
import { dropDatabase } from '../../src/db/admin.js';
import { freePort } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('health', () => {
  it('when database and Redis are up, then live and ready are 200', async () => {
    server = await startTestServer();
    const live = await fetch(`${server.baseUrl}/health/live`);
    expect(live.status).toBe(200);
    const ready = await fetch(`${server.baseUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { database: 'up', redis: 'up' },
    });
  });

  it('when Redis is unreachable, then ready stays 200 (reporting redis down) and the API still serves', async () => {
    server = await startTestServer({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    const ready = await fetch(`${server.baseUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { database: 'up', redis: 'down' },
    });
    const user = await server.api.register();
    expect((await server.api.get('/user', { token: user.token })).status).toBe(200);
  });

  it('when the primary database disappears, then ready is 503 and live stays 200', async () => {
    server = await startTestServer();
    await dropDatabase(server.db.url);
    const ready = await fetch(`${server.baseUrl}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      status: 'unavailable',
      checks: { database: 'down' },
    });
    expect((await fetch(`${server.baseUrl}/health/live`)).status).toBe(200);
  });
});
