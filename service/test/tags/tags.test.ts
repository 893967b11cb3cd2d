import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('tags', () => {
  it('when articles use tags, then /tags lists used tags, most used first, and honours limit', async () => {
    const u = await server.api.register();
    await server.api.createArticle(u.token, { tagList: ['common', 'rare'] });
    await server.api.createArticle(u.token, { tagList: ['common'] });
    const doomed = await server.api.createArticle(u.token, { tagList: ['gone'] });
    await server.api.delete(`/articles/${doomed.slug}`, { token: u.token });
    expect((await server.api.get('/tags')).body).toEqual({ tags: ['common', 'rare'] });
    expect((await server.api.get('/tags?limit=1')).body).toEqual({ tags: ['common'] });
  });

  it('when the limit is not a number or a parameter is unknown, then 422', async () => {
    expect((await server.api.get('/tags?limit=abc')).status).toBe(422);
    expect((await server.api.get('/tags?sort=name')).status).toBe(422);
  });
});
