import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const TIMEOUT_MS = 500;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) });
});
afterAll(() => server.close());

/**
 * Locks the user's row from another connection until `release()`, so an update of that user
 * waits in PostgreSQL: a request that is slow for a real reason, with no test-only code path.
 */
async function lockUserRow(email: string) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const transaction = server.orm.em.fork().transactional(async (em) => {
    await em.execute('select id from users where email = ? for update', [email]);
    locked();
    await released;
  });
  await isLocked;
  return async () => {
    release();
    await transaction;
  };
}

describe('request timeout', () => {
  it('when a request finishes within REQUEST_TIMEOUT_MS, then it is answered normally', async () => {
    const res = await server.api.get('/tags');
    expect(res.status).toBe(200);
  });

  it('when a request is still running after REQUEST_TIMEOUT_MS, then 503 with the request id, and the late result is discarded', async () => {
    const user = await server.api.register('slow');
    const unlock = await lockUserRow(user.email);
    let res;
    const started = Date.now();
    try {
      res = await server.api.put('/user', { token: user.token, body: { user: { bio: 'late' } } });
    } finally {
      await unlock();
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 10);
    expect(res.status).toBe(503);
    const requestId = res.headers.get('x-request-id');
    expect(res.body).toEqual({ errors: { request: ['timed out'] }, requestId });
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");

    // The abandoned update completes once the lock is gone; its 200 never reaches anyone.
    await until(() =>
      server.logs.some((l) => l.requestId === requestId && l.msg === 'timed-out request finished'),
    );
    const lines = server.logs.filter((l) => l.requestId === requestId);
    expect(lines.filter((l) => l.msg === 'request failed').map((l) => l.status)).toEqual([503]);
    expect(lines.filter((l) => l.msg === 'unhandled error')).toEqual([]);
    expect((await server.api.get('/user', { token: user.token })).body.user.bio).toBe('late');
  });
});
