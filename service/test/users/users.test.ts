import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { uniqueUser } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('registration', () => {
  it('when a new user registers, then 201 with a token and an empty profile', async () => {
    const user = uniqueUser();
    const res = await server.api.post('/users', { body: { user } });
    expect(res.status).toBe(201);
    expect(res.body.user).toEqual({
      email: user.email,
      username: user.username,
      bio: '',
      image: '',
      role: 'author',
      token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
    });
  });

  it('when the email differs only in case and spaces, then it is normalised and still unique', async () => {
    const user = uniqueUser();
    const first = await server.api.post('/users', {
      body: { user: { ...user, email: `  ${user.email.toUpperCase()} ` } },
    });
    expect(first.status).toBe(201);
    expect(first.body.user.email).toBe(user.email);
    const again = await server.api.post('/users', {
      body: { user: { ...user, username: `${user.username}2` } },
    });
    expect(again.status).toBe(422);
    expect(again.body.errors).toEqual({ email: ['has already been taken'] });
  });

  it('when email and username are both taken, then 422 names both fields', async () => {
    const user = await server.api.register();
    const res = await server.api.post('/users', {
      body: { user: { ...uniqueUser(), email: user.email, username: user.username } },
    });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({
      email: ['has already been taken'],
      username: ['has already been taken'],
    });
  });

  it('when ten clients register the same username at once, then exactly one succeeds and the rest get 422', async () => {
    const { username } = uniqueUser();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        server.api.post('/users', {
          body: { user: { ...uniqueUser(), username, email: `race${i}${username}@example.com` } },
        }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 422)).toHaveLength(9);
    for (const r of results.filter((x) => x.status === 422)) {
      expect(r.body.errors).toEqual({ username: ['has already been taken'] });
    }
    const rows = await server.orm.em
      .fork()
      .getConnection()
      .execute('select count(*)::int as n from users where username = ?', [username]);
    expect(rows[0]!.n).toBe(1);
  });

  it.each([
    [{}, { user: ["can't be blank"] }],
    [
      { user: {} },
      { username: ["can't be blank"], email: ["can't be blank"], password: ["can't be blank"] },
    ],
    [
      { user: { username: 'ok', email: 'not-an-email', password: 'long enough' } },
      { email: ['is invalid'] },
    ],
    [
      { user: { username: 'ok', email: 'a@b.co', password: 'short' } },
      { password: ['is too short (minimum is 8 characters)'] },
    ],
    [
      { user: { username: 'a/b', email: 'a@b.co', password: 'long enough' } },
      { username: ['must not contain / \\ ? # or %'] },
    ],
    [
      { user: { username: 42, email: 'a@b.co', password: 'long enough' } },
      { username: ['must be a string'] },
    ],
  ])('when the body is %j, then 422 with %j', async (body, errors) => {
    const res = await server.api.post('/users', { body });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual(errors);
  });
});

describe('login', () => {
  it('when the credentials are right, then 200 with a working token', async () => {
    const user = await server.api.register();
    const res = await server.api.post('/users/login', {
      body: { user: { email: user.email, password: user.password } },
    });
    expect(res.status).toBe(200);
    const me = await server.api.get('/user', { token: res.body.user.token });
    expect(me.status).toBe(200);
    expect(me.body.user.username).toBe(user.username);
  });

  it('when the email is unknown or the password wrong, then the same 401', async () => {
    const user = await server.api.register();
    const wrong = await server.api.post('/users/login', {
      body: { user: { email: user.email, password: 'wrong password' } },
    });
    const unknown = await server.api.post('/users/login', {
      body: { user: { email: `nobody${user.email}`, password: 'wrong password' } },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.errors).toEqual(unknown.body.errors);
  });
});

describe('current user', () => {
  it('when no token is sent, then 401', async () => {
    const res = await server.api.get('/user');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Token');
  });

  it('when the user updates bio, image and password, then the changes persist and the new password works', async () => {
    const user = await server.api.register();
    const res = await server.api.put('/user', {
      token: user.token,
      body: {
        user: {
          bio: 'I like dragons',
          image: 'https://example.com/a.png',
          password: 'a brand new password',
        },
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({
      bio: 'I like dragons',
      image: 'https://example.com/a.png',
      token: user.token,
    });
    const login = await server.api.post('/users/login', {
      body: { user: { email: user.email, password: 'a brand new password' } },
    });
    expect(login.status).toBe(200);
  });

  it('when the user re-submits their own email (as the RealWorld suite does), then 200', async () => {
    const user = await server.api.register();
    const res = await server.api.put('/user', {
      token: user.token,
      body: { user: { email: user.email } },
    });
    expect(res.status).toBe(200);
  });

  it('when the image is a javascript: URL, then 422 and nothing changes', async () => {
    const user = await server.api.register();
    const res = await server.api.put('/user', {
      token: user.token,
      body: { user: { image: 'javascript:alert(1)', bio: 'changed' } },
    });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ image: ['must be an http(s) URL'] });
    const me = await server.api.get('/user', { token: user.token });
    expect(me.body.user.bio).toBe('');
  });

  it('when the new username belongs to someone else, then 422', async () => {
    const a = await server.api.register();
    const b = await server.api.register();
    const res = await server.api.put('/user', {
      token: a.token,
      body: { user: { username: b.username } },
    });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ username: ['has already been taken'] });
  });

  it('when the update has no fields, then 422', async () => {
    const user = await server.api.register();
    const res = await server.api.put('/user', { token: user.token, body: { user: {} } });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ user: ['must contain at least one field'] });
  });
});
