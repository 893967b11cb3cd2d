import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.js';
import { startSession } from '../support/sessions.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ SESSION_IDLE_TIMEOUT_SECONDS: '120' });
});
afterAll(() => server.close());

const sessionLogin = (email: string, password: string, previousCookie?: string) =>
  startSession(server, { email, password }, previousCookie);

describe('cookie sessions', () => {
  it('when a user logs in, then an httpOnly SameSite cookie is set and the session works for reads', async () => {
    const user = await server.api.register();
    const s = await sessionLogin(user.email, user.password);
    expect(s.setCookie).toMatch(/httponly/i);
    expect(s.setCookie).toMatch(/samesite=lax/i);
    expect(s.body.user).toMatchObject({ email: user.email, username: user.username });
    expect(s.body.user).not.toHaveProperty('token');
    const me = await server.api.get('/user', { headers: { Cookie: s.cookie } });
    expect(me.status).toBe(200);
    expect(me.body.user.email).toBe(user.email);
    const current = await server.api.get('/sessions/current', { headers: { Cookie: s.cookie } });
    expect(current.body.csrfToken).toBe(s.csrf);
  });

  it('when a browser logs in again, then it gets a new session id and the old one is dead (no fixation)', async () => {
    const user = await server.api.register();
    const first = await sessionLogin(user.email, user.password);
    const second = await sessionLogin(user.email, user.password, first.cookie);
    expect(second.cookie).not.toBe(first.cookie);
    expect((await server.api.get('/user', { headers: { Cookie: first.cookie } })).status).toBe(401);
    expect((await server.api.get('/user', { headers: { Cookie: second.cookie } })).status).toBe(
      200,
    );
  });

  it('when writing with the cookie, then the CSRF token is required', async () => {
    const user = await server.api.register();
    const s = await sessionLogin(user.email, user.password);
    const body = { article: { title: 'Via cookie', description: 'd', body: 'b' } };
    const without = await server.api.post('/articles', { body, headers: { Cookie: s.cookie } });
    expect(without.status).toBe(403);
    expect(without.body.errors.csrf).toBeDefined();
    const withToken = await server.api.post('/articles', {
      body,
      headers: { Cookie: s.cookie, 'X-CSRF-Token': s.csrf },
    });
    expect(withToken.status).toBe(201);
  });

  it('when the session sits idle, then Redis expires it after the idle timeout', async () => {
    const user = await server.api.register();
    const s = await sessionLogin(user.email, user.password);
    const keys = await server.redis.keys(`${server.config.REDIS_KEY_PREFIX}sess:*`);
    const ttls = await Promise.all(keys.map((k) => server.redis.ttl(k)));
    expect(Math.max(...ttls)).toBeLessThanOrEqual(120);
    expect(Math.min(...ttls)).toBeGreaterThan(0);
    expect((await server.api.get('/user', { headers: { Cookie: s.cookie } })).status).toBe(200);
  });

  it('when a session is older than the absolute timeout, then it is refused however active', async () => {
    const user = await server.api.register();
    const s = await sessionLogin(user.email, user.password);
    // Age the live session as if it had been created 25 hours ago (the absolute limit is 24 h).
    for (const key of await server.redis.keys(`${server.config.REDIS_KEY_PREFIX}sess:*`)) {
      const data = JSON.parse((await server.redis.get(key))!);
      if (data.userId === undefined) continue;
      data.createdAt -= 25 * 3600 * 1000;
      await server.redis.set(key, JSON.stringify(data), 'EX', 60);
    }
    expect((await server.api.get('/user', { headers: { Cookie: s.cookie } })).status).toBe(401);
  });

  it('when the user logs out, then that session ends but others stay', async () => {
    const user = await server.api.register();
    const a = await sessionLogin(user.email, user.password);
    const b = await sessionLogin(user.email, user.password);
    const out = await server.api.delete('/sessions/current', {
      headers: { Cookie: a.cookie, 'X-CSRF-Token': a.csrf },
    });
    expect(out.status).toBe(204);
    expect((await server.api.get('/user', { headers: { Cookie: a.cookie } })).status).toBe(401);
    expect((await server.api.get('/user', { headers: { Cookie: b.cookie } })).status).toBe(200);
  });

  it('when the user logs out everywhere, then every session and every token stops working', async () => {
    const user = await server.api.register();
    const a = await sessionLogin(user.email, user.password);
    const b = await sessionLogin(user.email, user.password);
    const res = await server.api.delete('/sessions', { token: user.token });
    expect(res.status).toBe(204);
    for (const cookie of [a.cookie, b.cookie]) {
      expect((await server.api.get('/user', { headers: { Cookie: cookie } })).status).toBe(401);
    }
    expect((await server.api.get('/user', { token: user.token })).status).toBe(401);
    // Logging in again afterwards works at once: revocation is ordered by millisecond issue times.
    const again = await server.api.post('/users/login', {
      body: { user: { email: user.email, password: user.password } },
    });
    expect((await server.api.get('/user', { token: again.body.user.token })).status).toBe(200);
  });
});
