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
    const url = `http://127.0.0.1:${port}/api/users`;

    let pending = 50;
    let firstAnswered!: () => void;
    const first = new Promise<void>((resolve) => (firstAnswered = resolve));
    const requests = Array.from({ length: 50 }, async () => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ user: uniqueUser('drain') }),
      });
      await res.text();
      pending -= 1;
      firstAnswered();
      return res.status;
    });

    await first;
    const inFlightAtSignal = pending;
    proc.child.kill('SIGTERM');
    const statuses = await Promise.all(requests);
    const { code } = await proc.exited;

    expect(inFlightAtSignal).toBeGreaterThanOrEqual(10);
    expect(statuses).toEqual(Array(50).fill(201));
    expect(code).toBe(0);
    expect(proc.stdout()).toContain('shutdown complete');
    expect(proc.stdout()).not.toContain('shutdown timeout reached');
    await expect(fetch(`http://127.0.0.1:${port}/health/live`)).rejects.toThrow();
  }, 60_000);
});
