import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('profiles', () => {
  it('when a user follows and unfollows, then `following` reflects it for that viewer only', async () => {
    const a = await server.api.register('a');
    const b = await server.api.register('b');
    const followed = await server.api.post(`/profiles/${b.username}/follow`, { token: a.token });
    expect(followed.body.profile).toEqual({
      username: b.username,
      bio: '',
      image: '',
      following: true,
    });
    expect(
      (await server.api.post(`/profiles/${b.username}/follow`, { token: a.token })).status,
    ).toBe(200);
    expect(
      (await server.api.get(`/profiles/${b.username}`, { token: a.token })).body.profile.following,
    ).toBe(true);
    expect((await server.api.get(`/profiles/${b.username}`)).body.profile.following).toBe(false);
    const unfollowed = await server.api.delete(`/profiles/${b.username}/follow`, {
      token: a.token,
    });
    expect(unfollowed.body.profile.following).toBe(false);
    const [row] = await server.orm.em
      .fork()
      .getConnection()
      .execute('select count(*)::int as n from follows');
    expect(row!.n).toBe(0);
  });

  it('when the profile does not exist, then 404 for get, follow and unfollow', async () => {
    const a = await server.api.register('a');
    expect((await server.api.get('/profiles/nobody-at-all')).status).toBe(404);
    expect(
      (await server.api.post('/profiles/nobody-at-all/follow', { token: a.token })).status,
    ).toBe(404);
    expect(
      (await server.api.delete('/profiles/nobody-at-all/follow', { token: a.token })).status,
    ).toBe(404);
  });

  it('when a user follows themselves, then 422', async () => {
    const a = await server.api.register('a');
    const res = await server.api.post(`/profiles/${a.username}/follow`, { token: a.token });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ profile: ['cannot follow yourself'] });
  });

  it('when a username has spaces and accents, then its profile is reachable URL-encoded', async () => {
    const user = {
      username: 'José Díaz',
      email: `jose${Date.now()}@example.com`,
      password: 'long enough pw',
    };
    expect((await server.api.post('/users', { body: { user } })).status).toBe(201);
    const res = await server.api.get(`/profiles/${encodeURIComponent(user.username)}`);
    expect(res.status).toBe(200);
    expect(res.body.profile.username).toBe('José Díaz');
  });

  it('when an optional-auth route gets a bad token, then 401 rather than silently anonymous', async () => {
    const a = await server.api.register('a');
    const res = await server.api.get(`/profiles/${a.username}`, {
      headers: { Authorization: 'Token not.a.jwt' },
    });
    expect(res.status).toBe(401);
  });
});
