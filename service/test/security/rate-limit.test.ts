import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { uniqueUser, type ApiResponse } from '../support/client.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { freePort } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

// One database for every server in this file: only the limiter settings differ between them.
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

const serve = (overrides: Record<string, string>) =>
  startTestServer({ RATE_LIMIT_ENABLED: 'true', ...overrides }, { databaseUrl: db.url });

let lastOctet = 0;
/** A client address of its own, so each test starts with full buckets. */
const newClient = () => `203.0.113.${++lastOctet}`;
const from = (ip: string) => ({ headers: { 'X-Forwarded-For': ip } });

function expectTooManyRequests(res: ApiResponse, maxSeconds: number): void {
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxSeconds);
  expect(res.body).toEqual({
    errors: { rate: [`too many requests, retry in ${retryAfter} s`] },
    requestId: res.headers.get('x-request-id'),
  });
}

describe('rate limits behind a load balancer', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serve({
      TRUST_PROXY: 'true',
      RATE_LIMIT_PER_MINUTE: '10',
      RATE_LIMIT_AUTH_PER_MINUTE: '3',
      RATE_LIMIT_LOGIN_PER_ACCOUNT: '2',
    });
  });
  afterAll(() => server.close());

  const register = async () => {
    const user = uniqueUser('rl');
    const res = await server.api.post('/users', { body: { user }, ...from(newClient()) });
    expect(res.status).toBe(201);
    return user;
  };
  const login = (email: string, password: string, ip = newClient(), path = '/users/login') =>
    server.api.post(path, { body: { user: { email, password } }, ...from(ip) });

  it('when a client exceeds RATE_LIMIT_PER_MINUTE, then 429 with Retry-After while other clients carry on', async () => {
    const ip = newClient();
    for (let i = 9; i >= 0; i -= 1) {
      const res = await server.api.get('/tags', from(ip));
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-limit')).toBe('10');
      expect(res.headers.get('ratelimit-remaining')).toBe(String(i));
    }
    expectTooManyRequests(await server.api.get('/tags', from(ip)), 60);
    expect((await server.api.get('/tags', from(newClient()))).status).toBe(200);
  });

  it('when a client prepends its own X-Forwarded-For entries, then it is still limited by the address the load balancer saw', async () => {
    const ip = newClient();
    for (let i = 0; i < 10; i += 1) {
      const res = await server.api.get('/tags', from(`198.51.100.${i}, ${ip}`));
      expect(res.status).toBe(200);
    }
    expectTooManyRequests(await server.api.get('/tags', from(`198.51.100.99, ${ip}`)), 60);
  });

  it('when a client is limited, then the health endpoints still answer it', async () => {
    const ip = newClient();
    for (let i = 0; i < 10; i += 1) await server.api.get('/tags', from(ip));
    expect((await server.api.get('/tags', from(ip))).status).toBe(429);
    for (const path of ['/health/live', '/health/ready']) {
      const res = await fetch(`${server.baseUrl}${path}`, from(ip));
      expect(res.status).toBe(200);
    }
  });

  it('when a client hits login, registration, sessions and password change, then they share the stricter auth limit', async () => {
    const ip = newClient();
    const attempts = [
      await server.api.post('/users', { body: { user: {} }, ...from(ip) }),
      await login(uniqueUser().email, 'wrong password', ip, '/sessions'),
      await server.api.put('/user', { body: { user: { password: 'new password!' } }, ...from(ip) }),
    ];
    expect(attempts.map((r) => r.status)).toEqual([422, 401, 401]);
    expect(attempts.map((r) => r.headers.get('ratelimit-limit'))).toEqual(['3', '3', '3']);
    expectTooManyRequests(await login(uniqueUser().email, 'wrong password', ip), 60);
    // The general allowance is separate and still has room.
    expect((await server.api.get('/tags', from(ip))).status).toBe(200);
  });

  it('when an account has RATE_LIMIT_LOGIN_PER_ACCOUNT failed logins, then even the right password gets 429 for 15 minutes, from any address', async () => {
    const victim = await register();
    expect((await login(victim.email, 'wrong password')).status).toBe(401);
    expect((await login(victim.email, 'wrong password')).status).toBe(401);

    const blocked = await login(victim.email, victim.password);
    expectTooManyRequests(blocked, 15 * 60);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(14 * 60);
    // The account key is the normalised email, as the login itself reads it.
    expectTooManyRequests(await login(` ${victim.email.toUpperCase()} `, victim.password), 15 * 60);
    expectTooManyRequests(
      await login(victim.email, victim.password, newClient(), '/sessions'),
      15 * 60,
    );

    const bystander = await register();
    expect((await login(bystander.email, bystander.password)).status).toBe(200);
  });

  it('when a login succeeds, then earlier failures of that account are forgiven', async () => {
    const user = await register();
    expect((await login(user.email, 'wrong password')).status).toBe(401);
    expect((await login(user.email, user.password, newClient(), '/sessions')).status).toBe(201);
    expect((await login(user.email, 'wrong password')).status).toBe(401);
    expect((await login(user.email, 'wrong password')).status).toBe(401);
    expect((await login(user.email, user.password)).status).toBe(429);
  });
});

describe('rate limits without a trusted proxy', () => {
  it('when a client varies X-Forwarded-For, then it is still one client (the socket address)', async () => {
    const server = await serve({ TRUST_PROXY: 'false', RATE_LIMIT_PER_MINUTE: '2' });
    try {
      expect((await server.api.get('/tags', from('192.0.2.1'))).status).toBe(200);
      expect((await server.api.get('/tags', from('192.0.2.2'))).status).toBe(200);
      expectTooManyRequests(await server.api.get('/tags', from('192.0.2.3')), 60);
    } finally {
      await server.close();
    }
  });
});

describe('default limits', () => {
  it('when a load test sends a burst of requests from one IP, then none is throttled', async () => {
    const server = await serve({});
    try {
      const burst = await Promise.all(Array.from({ length: 100 }, () => server.api.get('/tags')));
      expect(burst.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
      const last = await server.api.get('/tags');
      expect(last.headers.get('ratelimit-limit')).toBe('20000');
      expect(last.headers.get('ratelimit-remaining')).toBe(String(20000 - 101));
    } finally {
      await server.close();
    }
  }, 20_000);

  it('when RATE_LIMIT_ENABLED is false, then nothing is limited', async () => {
    const server = await serve({
      RATE_LIMIT_ENABLED: 'false',
      RATE_LIMIT_PER_MINUTE: '1',
      RATE_LIMIT_AUTH_PER_MINUTE: '1',
      RATE_LIMIT_LOGIN_PER_ACCOUNT: '1',
    });
    try {
      const { email } = uniqueUser();
      const responses = [
        await server.api.get('/tags'),
        await server.api.get('/tags'),
        await server.api.post('/users/login', { body: { user: { email, password: 'nope' } } }),
        await server.api.post('/users/login', { body: { user: { email, password: 'nope' } } }),
      ];
      expect(responses.map((r) => r.status)).toEqual([200, 200, 401, 401]);
      expect(responses.map((r) => r.headers.get('ratelimit-limit'))).toEqual([
        null,
        null,
        null,
        null,
      ]);
    } finally {
      await server.close();
    }
  });
});

/** A private Redis this test may stop (never the shared one). */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', () => reject(new Error(`redis-server exited: ${out}`)));
  });
  return child;
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

describe('when Redis goes down', () => {
  it('then limits still hold per process, one warning marks the outage and one line its end', async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    const server = await serve({
      REDIS_URL: `redis://127.0.0.1:${port}`,
      RATE_LIMIT_PER_MINUTE: '3',
    });
    try {
      expect((await server.api.get('/tags')).status).toBe(200);

      await stopRedis(redis);
      await until(() => server.redis.status !== 'ready');
      const during = [];
      for (let i = 0; i < 4; i += 1) during.push(await server.api.get('/tags'));
      expect(during.slice(0, 3).map((r) => r.status)).toEqual([200, 200, 200]);
      expectTooManyRequests(during[3]!, 60);
      const warnings = server.logs.filter((l) =>
        /^Redis unavailable: rate limits/.test(String(l.msg)),
      );
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.level).toBe('warn');

      redis = await startRedis(port);
      await until(() => server.redis.status === 'ready');
      expect(server.logs.filter((l) => l.msg === 'rate limiting is back on Redis')).toHaveLength(1);
      // Counting is shared again (and this Redis starts empty).
      expect((await server.api.get('/tags')).headers.get('ratelimit-remaining')).toBe('2');
    } finally {
      await server.close();
      await stopRedis(redis);
    }
  }, 20_000);
});
