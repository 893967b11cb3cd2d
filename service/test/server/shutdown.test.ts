import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { uniqueUser } from '../support/client.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { testEnv } from '../support/env.js';
import { freePort, spawnEntry } from '../support/process.js';

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
