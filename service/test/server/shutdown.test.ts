import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SHUTDOWN_EXIT_MARGIN_MS } from '../../src/config.js';
import { connectOrm } from '../../src/db/orm.js';
import { logLines } from '../support/build.js';
import { uniqueUser } from '../support/client.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { testEnv } from '../support/env.js';
import { holdTableLock } from '../support/locks.js';
import { freePort, spawnEntry, type Spawned } from '../support/process.js';
import { startPrivateStore } from '../support/stores.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

/** One HTTP request over `agent`; resolves with the status once the body is read. */
function send(
  agent: Agent,
  port: number,
  method: string,
  path: string,
  body?: unknown,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: payload
          ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }
          : {},
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('graceful shutdown', () => {
  it('when SIGTERM arrives with 50 requests in flight, then all 50 are answered and the process exits 0', async () => {
    const port = await freePort();
    // Production argon2 parameters make each registration take real CPU time, so the 50
    // requests are genuinely still being processed when the signal arrives.
    const proc = spawnEntry(
      'service/src/server.ts',
      testEnv(db.url, {
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        ARGON2_MEMORY_KIB: '19456',
        ARGON2_TIME_COST: '2',
      }),
    );
    await proc.waitFor('service listening');

    // Open 50 keep-alive connections first, so every request below travels on a connection the
    // server has already accepted (a loaded machine must not turn this into a connect race).
    const agent = new Agent({ keepAlive: true, maxSockets: 50 });
    const warm = await Promise.all(
      Array.from({ length: 50 }, () => send(agent, port, 'GET', '/health/live')),
    );
    expect(warm).toEqual(Array(50).fill(200));

    let pending = 50;
    let firstAnswered!: () => void;
    const first = new Promise<void>((resolve) => (firstAnswered = resolve));
    const requests = Array.from({ length: 50 }, async () => {
      const status = await send(agent, port, 'POST', '/api/users', { user: uniqueUser('drain') });
      pending -= 1;
      firstAnswered();
      return status;
    });

    await first;
    const inFlightAtSignal = pending;
    proc.child.kill('SIGTERM');
    const statuses = await Promise.all(requests);
    const { code } = await proc.exited;
    agent.destroy();

    expect(inFlightAtSignal).toBeGreaterThanOrEqual(10);
    expect(statuses).toEqual(Array(50).fill(201));
    expect(code).toBe(0);
    expect(proc.stdout()).toContain('shutdown complete');
    expect(proc.stdout()).not.toContain('shutdown timeout reached');
    await expect(fetch(`http://127.0.0.1:${port}/health/live`)).rejects.toThrow();
  }, 60_000);
});

/** The real server entry on a free port, started and listening. */
async function startServer(databaseUrl: string, overrides: Record<string, string>) {
  const port = await freePort();
  const proc = spawnEntry(
    'service/src/server.ts',
    testEnv(databaseUrl, {
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ...overrides,
    }),
  );
  await proc.waitFor('service listening');
  return { port, proc };
}

/** How long after `since` the process exited, or undefined if it is still running at `withinMs`. */
async function exitedWithin(proc: Spawned, since: number, withinMs: number) {
  const timeout = new AbortController();
  const exit = await Promise.race([
    proc.exited,
    sleep(withinMs, undefined, { signal: timeout.signal }).catch(() => undefined),
  ]);
  timeout.abort();
  return exit && { ...exit, afterMs: Date.now() - since };
}

describe('draining for the load balancer', () => {
  it('when SIGTERM arrives, then readiness is 503 on new connections and keep-alive requests are served during the drain delay, then the listener closes', async () => {
    const { port, proc } = await startServer(db.url, {
      SHUTDOWN_DRAIN_DELAY_MS: '2000',
      SHUTDOWN_TIMEOUT_MS: '5000',
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const fresh = () => new Agent({ keepAlive: false });
    try {
      const warm = await Promise.all(
        Array.from({ length: 8 }, () => send(agent, port, 'GET', '/health/live')),
      );
      expect(warm).toEqual(Array(8).fill(200));
      // A client that never finishes its headers holds no request: it must not hold up the exit.
      const slow = connect(port, '127.0.0.1', () => slow.write('GET /api/tags HTTP/1.1\r\n'));
      slow.on('error', () => undefined);

      proc.child.kill('SIGTERM');
      await proc.waitFor('shutting down');
      // A load balancer's health check opens a new connection: it must see 503, not a refusal.
      expect(await send(fresh(), port, 'GET', '/health/ready')).toBe(503);
      // Requests it routed before deregistering arrive on reused connections: all are served.
      const during = await Promise.all(
        Array.from({ length: 40 }, () => send(agent, port, 'GET', '/api/tags')),
      );
      expect(during).toEqual(Array(40).fill(200));
      expect(proc.stdout()).not.toContain('drain delay over');

      const { code } = await proc.exited;
      expect(code).toBe(0);
      await expect(send(fresh(), port, 'GET', '/health/live')).rejects.toThrow(/ECONNREFUSED/);
      expect(proc.stdout()).toContain('shutdown complete');
      expect(proc.stdout()).not.toContain('shutdown timeout reached');
      slow.destroy();
    } finally {
      agent.destroy();
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    }
  }, 60_000);
});

describe('bounded shutdown', () => {
  const timeoutMs = 1000;
  // The bound the process promises, plus room for a loaded test machine.
  const boundMs = timeoutMs + SHUTDOWN_EXIT_MARGIN_MS + 3000;

  it('when a request is blocked on a table lock, then the process exits 1 within the bound while the lock is still held', async () => {
    const orm = await connectOrm({
      DATABASE_URL: db.url,
      DATABASE_SSL: 'disable',
      DATABASE_POOL_MAX: 2,
    });
    const lock = await holdTableLock(orm, 'lock table tags in access exclusive mode');
    const { port, proc } = await startServer(db.url, {
      SHUTDOWN_DRAIN_DELAY_MS: '0',
      SHUTDOWN_TIMEOUT_MS: String(timeoutMs),
    });
    try {
      const blocked = send(new Agent(), port, 'GET', '/api/tags').catch((err: Error) => err);
      // Wait until the request's query is really waiting on the lock.
      const conn = orm.em.fork().getConnection();
      while (
        (
          await conn.execute(
            "select 1 from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()",
          )
        ).length === 0
      ) {
        await sleep(25);
      }
      const signalled = Date.now();
      proc.child.kill('SIGTERM');
      const exit = await exitedWithin(proc, signalled, boundMs);
      expect(exit).toMatchObject({ code: 1 });
      expect(exit!.afterMs).toBeLessThan(boundMs);
      // The timeout names what it abandons: the one request still open, oldest first.
      const timedOut = logLines(proc).find((l) => String(l.msg).startsWith('shutdown timeout'));
      expect(timedOut).toMatchObject({
        inFlightRequests: 1,
        oldest: [{ request: 'GET /api/tags', ageMs: expect.any(Number) }],
      });
      // Cut, not answered: the client sees the connection end.
      expect(String(await blocked)).toMatch(/socket hang up|ECONNRESET/);
    } finally {
      await lock.release();
      await orm.close(true);
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    }
  }, 60_000);

  it('when PostgreSQL is frozen with a request in flight, then the process still exits 1 within the bound', async () => {
    const pg = await startPrivateStore('postgres');
    const frozenDb = await createTestDatabase({ serverUrl: pg.url });
    const { port, proc } = await startServer(frozenDb.url, {
      SHUTDOWN_DRAIN_DELAY_MS: '0',
      SHUTDOWN_TIMEOUT_MS: String(timeoutMs),
      // The tag list must come from PostgreSQL, not from the read cache.
      CACHE_ENABLED: 'false',
    });
    try {
      // A pooled connection exists, so the next query goes out on it and hangs.
      expect(await send(new Agent(), port, 'GET', '/api/tags')).toBe(200);
      await pg.freeze();
      const hanging = send(new Agent(), port, 'GET', '/api/tags').catch((err: Error) => err);
      await sleep(200);
      const signalled = Date.now();
      proc.child.kill('SIGTERM');
      const exit = await exitedWithin(proc, signalled, boundMs);
      expect(exit).toMatchObject({ code: 1 });
      expect(exit!.afterMs).toBeLessThan(boundMs);
      expect(String(await hanging)).toMatch(/socket hang up|ECONNRESET/);
    } finally {
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
      await pg.remove();
    }
  }, 60_000);
});
