import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ApiResponse } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startSession } from '../support/sessions.js';
import { startPrivateStore, type PrivateStore } from '../support/stores.js';
import { until } from '../support/wait.js';

let redis: PrivateStore;
let server: TestServer;
let token: string;
let adminToken: string;
let cookie: string;

beforeAll(async () => {
  redis = await startPrivateStore('redis');
  server = await startTestServer({
    REDIS_URL: redis.url,
    RATE_LIMIT_ENABLED: 'true',
    // Short, so the test is quick; production's are 250 ms and 2 s.
    REDIS_COMMAND_TIMEOUT_MS: '100',
    REDIS_CIRCUIT_OPEN_MS: '300',
    // Without the guard, a hung Redis holds every request until this 503 ("timed out").
    REQUEST_TIMEOUT_MS: '4000',
    OIDC_PROVIDERS: JSON.stringify([
      { name: 'github', preset: 'github', clientId: 'id', clientSecret: 'secret' },
    ]),
  });
  const user = await server.api.register('outage');
  token = user.token;
  adminToken = (await server.register('outageadmin', 'admin')).token;
  cookie = (await startSession(server, user)).cookie;
}, 60_000);

afterAll(async () => {
  await server?.close();
  await redis?.remove();
});

/** 503 + Retry-After naming `field`, and no cookie touched. */
function expectUnavailable(res: ApiResponse, field: string) {
  expect(res.status).toBe(503);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(res.body.errors[field]).toEqual([expect.stringMatching(/^store is unavailable/)]);
  expect(res.headers.get('set-cookie')).toBeNull();
}

/** What must hold while Redis cannot answer, whether it hangs or is gone. */
async function expectServedWithoutRedis() {
  for (let i = 0; i < 10; i += 1) {
    expect((await server.api.get('/tags')).status).toBe(200);
    expect((await server.api.get('/articles?limit=5')).status).toBe(200);
  }
  // Token authentication and writes need no Redis (rate limits count per process meanwhile).
  expect((await server.api.get('/user', { token })).status).toBe(200);
  const article = await server.api.post('/articles', {
    token,
    body: { article: { title: 'Written during a Redis outage', description: 'd', body: 'b' } },
  });
  expect(article.status).toBe(201);

  // A cookie is neither refused as unknown nor cleared: its store is unavailable.
  expectUnavailable(await server.api.get('/user', { headers: { Cookie: cookie } }), 'session');
  const login = await server.api.post('/sessions', {
    body: { user: { email: 'nobody@example.com', password: 'whatever-it-is' } },
  });
  // Wrong credentials are still 401; a real login needs the store (below).
  expect(login.status).toBe(401);
  expectUnavailable(await server.api.get('/admin/queues', { token: adminToken }), 'queues');
  const oidc = await fetch(`${server.baseUrl}/api/auth/oidc/github/login`, { redirect: 'manual' });
  expect(oidc.status).toBe(503);
  expect(((await oidc.json()) as any).errors.state).toBeDefined();

  const ready = await fetch(`${server.baseUrl}/health/ready`);
  expect(ready.status).toBe(200);
  expect(((await ready.json()) as any).checks.redis).toBe('down');
}

describe('when Redis hangs (SIGSTOP, connections open)', () => {
  it('then requests are served in milliseconds, cookies get 503 + Retry-After and survive, and the outage is one warning', async () => {
    const user = await server.api.register('frozen');
    await redis.freeze();
    try {
      await expectServedWithoutRedis();
      // Creating a session needs the store: 503 with a clear error, not 500.
      const login = await server.api.post('/sessions', {
        body: { user: { email: user.email, password: user.password } },
      });
      expectUnavailable(login, 'session');
      const warnings = server.logs.filter((l) =>
        String(l.msg).startsWith('Redis unavailable: commands fail fast'),
      );
      expect(warnings).toHaveLength(1);
    } finally {
      await redis.thaw();
    }
    // Same cookie, same session: it works again once the circuit lets a command through.
    const statuses: number[] = [];
    await until(async () => {
      const res = await server.api.get('/user', { headers: { Cookie: cookie } });
      statuses.push(res.status);
      return res.status === 200;
    });
    expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(server.logs.some((l) => l.msg === 'Redis answers again (circuit closed)')).toBe(true);
    expect(server.logs.some((l) => l.msg === 'rate limiting is back on Redis')).toBe(true);
  }, 60_000);
});

describe('when Redis is killed', () => {
  it('then requests are served, cookies get 503 + Retry-After, and a login is a 503, not a 500', async () => {
    const user = await server.api.register('killed');
    await redis.kill();
    try {
      await until(() => server.redis.status !== 'ready');
      await expectServedWithoutRedis();
      const login = await server.api.post('/sessions', {
        body: { user: { email: user.email, password: user.password } },
      });
      expectUnavailable(login, 'session');
    } finally {
      await redis.start();
    }
    // The new Redis is empty (no persistence): the circuit closes on the new connection, and a
    // login works again at once.
    await until(() => server.redis.status === 'ready');
    const login = await server.api.post('/sessions', {
      body: { user: { email: user.email, password: user.password } },
    });
    expect(login.status).toBe(201);
  }, 60_000);
});
