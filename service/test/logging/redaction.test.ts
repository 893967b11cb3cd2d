import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { uniqueUser } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ LOG_LEVEL: 'trace' });
});
afterAll(() => server.close());

describe('structured logs', () => {
  it('when users register, log in and call the API, then no log line holds a password, hash or token', async () => {
    const user = uniqueUser();
    const registered = await server.api.post('/users', { body: { user } });
    const login = await server.api.post('/users/login', {
      body: { user: { email: user.email, password: user.password } },
    });
    const token = login.body.user.token as string;
    await server.api.get('/user', { token, headers: { Cookie: 'session=abc123secretcookie' } });
    await server.api.put('/user', {
      token,
      body: { user: { password: 'another secret password' } },
    });
    await server.api.post('/users/login', {
      body: { user: { email: user.email, password: 'wrong-guess-1234' } },
    });

    const [row] = await server.orm.em
      .fork()
      .getConnection()
      .execute('select password_hash from users where email = ?', [user.email]);
    const text = server.logs.map((l) => JSON.stringify(l)).join('\n');
    expect(server.logs.length).toBeGreaterThanOrEqual(5);
    for (const secret of [
      user.password,
      'another secret password',
      'wrong-guess-1234',
      registered.body.user.token,
      token,
      row!.password_hash,
      'abc123secretcookie',
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  it('when a request is served, then every line carries its request id, which is also the response header', async () => {
    const res = await server.api.get('/tags', { headers: { 'X-Request-Id': 'trace-me-123' } });
    expect(res.headers.get('x-request-id')).toBe('trace-me-123');
    const lines = server.logs.filter((l) => l.requestId === 'trace-me-123');
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.at(-1)).toMatchObject({ method: 'GET', url: '/api/tags', status: 200 });
  });

  it('when the incoming request id is not well-formed, then a fresh one replaces it', async () => {
    const res = await server.api.get('/tags', {
      headers: { 'X-Request-Id': 'bad id\twith spaces' },
    });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when a URL carries an OAuth code or token in its query, then the access log redacts it', async () => {
    await server.api.get('/tags?code=oauth-code-secret&token=tok-secret');
    const text = server.logs.map((l) => JSON.stringify(l)).join('\n');
    expect(text).not.toContain('oauth-code-secret');
    expect(text).not.toContain('tok-secret');
  });
});
