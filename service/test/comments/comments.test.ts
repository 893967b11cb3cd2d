import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('comments', () => {
  it('when readers comment, then the list is oldest first with author profiles', async () => {
    const author = await server.api.register('author');
    const reader = await server.api.register('reader');
    const article = await server.api.createArticle(author.token);
    const c1 = await server.api.post(`/articles/${article.slug}/comments`, {
      token: reader.token,
      body: { comment: { body: 'first' } },
    });
    const c2 = await server.api.post(`/articles/${article.slug}/comments`, {
      token: author.token,
      body: { comment: { body: 'second' } },
    });
    expect(c1.status).toBe(200);
    expect(c1.body.comment).toMatchObject({
      id: expect.any(Number),
      body: 'first',
      author: { username: reader.username, following: false },
    });
    await server.api.post(`/profiles/${author.username}/follow`, { token: reader.token });
    const list = await server.api.get(`/articles/${article.slug}/comments`, {
      token: reader.token,
    });
    expect(list.status).toBe(200);
    expect(list.body.comments.map((c: { id: number }) => c.id)).toEqual([
      c1.body.comment.id,
      c2.body.comment.id,
    ]);
    expect(list.body.comments[1].author.following).toBe(true);
  });

  it('when someone other than the comment author deletes it, then 403; the author gets 204', async () => {
    const author = await server.api.register('author');
    const other = await server.api.register('other');
    const article = await server.api.createArticle(author.token);
    const c = await server.api.post(`/articles/${article.slug}/comments`, {
      token: author.token,
      body: { comment: { body: 'mine' } },
    });
    const id = c.body.comment.id;
    expect(
      (await server.api.delete(`/articles/${article.slug}/comments/${id}`, { token: other.token }))
        .status,
    ).toBe(403);
    expect(
      (await server.api.delete(`/articles/${article.slug}/comments/${id}`, { token: author.token }))
        .status,
    ).toBe(204);
    expect(
      (await server.api.delete(`/articles/${article.slug}/comments/${id}`, { token: author.token }))
        .status,
    ).toBe(404);
    expect((await server.api.get(`/articles/${article.slug}/comments`)).body.comments).toEqual([]);
  });

  it('when a comment id belongs to another article, then deleting it through this article is 404', async () => {
    const author = await server.api.register('author');
    const a1 = await server.api.createArticle(author.token, { title: 'One' });
    const a2 = await server.api.createArticle(author.token, { title: 'Two' });
    const c = await server.api.post(`/articles/${a1.slug}/comments`, {
      token: author.token,
      body: { comment: { body: 'x' } },
    });
    const res = await server.api.delete(`/articles/${a2.slug}/comments/${c.body.comment.id}`, {
      token: author.token,
    });
    expect(res.status).toBe(404);
  });

  it.each([
    ['abc', 'must be a positive integer'],
    ['-1', 'must be a positive integer'],
    ['99999999999', 'must be a positive integer'],
  ])('when the comment id is %s, then 422', async (id, message) => {
    const author = await server.api.register('author');
    const article = await server.api.createArticle(author.token);
    const res = await server.api.delete(`/articles/${article.slug}/comments/${id}`, {
      token: author.token,
    });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ id: [message] });
  });

  it('when the comment body is blank or the article unknown, then 422 / 404', async () => {
    const author = await server.api.register('author');
    const article = await server.api.createArticle(author.token);
    const blank = await server.api.post(`/articles/${article.slug}/comments`, {
      token: author.token,
      body: { comment: { body: '  ' } },
    });
    expect(blank.status).toBe(422);
    expect(blank.body.errors).toEqual({ body: ["can't be blank"] });
    const missing = await server.api.post('/articles/nope/comments', {
      token: author.token,
      body: { comment: { body: 'x' } },
    });
    expect(missing.status).toBe(404);
    expect((await server.api.get('/articles/nope/comments')).status).toBe(404);
  });
});
