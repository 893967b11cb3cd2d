import { QUEUE_NAMES } from '../../src/jobs/contracts.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Account } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let admin: Account;
let editor: Account;
let author: Account;
let viewer: Account;

beforeAll(async () => {
  server = await startTestServer();
  // Bootstrapping the first admin is an operator action on the database, as in production.
  [admin, editor, author, viewer] = (await Promise.all(
    ['admin', 'editor', 'author', 'viewer'].map((p) =>
      server.register(p, p === 'admin' ? 'admin' : undefined),
    ),
  )) as [Account, Account, Account, Account];
  const res = await server.api.put(`/admin/users/${editor.username}/role`, {
    token: admin.token,
    body: { user: { role: 'editor' } },
  });
  expect(res.status).toBe(200);
  await server.api.put(`/admin/users/${viewer.username}/role`, {
    token: admin.token,
    body: { user: { role: 'viewer' } },
  });
});
afterAll(() => server.close());

describe('roles', () => {
  it('when a viewer writes an article, then 403; reading, following, favoriting and commenting work', async () => {
    const created = await server.api.post('/articles', {
      token: viewer.token,
      body: { article: { title: 'Nope', description: 'd', body: 'b' } },
    });
    expect(created.status).toBe(403);
    const article = await server.api.createArticle(author.token, { title: 'For viewers' });
    expect(
      (await server.api.post(`/articles/${article.slug}/favorite`, { token: viewer.token })).status,
    ).toBe(200);
    expect(
      (await server.api.post(`/profiles/${author.username}/follow`, { token: viewer.token }))
        .status,
    ).toBe(200);
    const comment = await server.api.post(`/articles/${article.slug}/comments`, {
      token: viewer.token,
      body: { comment: { body: 'viewers may comment' } },
    });
    expect(comment.status).toBe(200);
  });

  it('when an editor edits and unpublishes someone else’s article, then it works and is audited', async () => {
    const article = await server.api.createArticle(author.token, { title: 'Edit me' });
    const res = await server.api.put(`/articles/${article.slug}`, {
      token: editor.token,
      body: { article: { body: 'edited by an editor', status: 'draft' } },
      headers: { 'X-Request-Id': 'editor-edit-1' },
    });
    expect(res.status).toBe(200);
    expect(res.body.article.status).toBe('draft');
    const log = await server.api.get('/admin/audit-log?action=article.update', {
      token: admin.token,
    });
    expect(log.body.entries[0]).toMatchObject({
      actor: editor.username,
      action: 'article.update',
      targetType: 'article',
      before: { status: 'published' },
      after: { status: 'draft' },
      requestId: 'editor-edit-1',
    });
    // Authors still cannot touch each other's articles.
    const other = await server.api.register('other');
    expect(
      (
        await server.api.put(`/articles/${article.slug}`, {
          token: other.token,
          body: { article: { body: 'x' } },
        })
      ).status,
    ).toBe(404);
  });

  it('when an editor deletes someone else’s comment, then 204 and an audit entry; an author cannot', async () => {
    const article = await server.api.createArticle(author.token);
    const c = await server.api.post(`/articles/${article.slug}/comments`, {
      token: viewer.token,
      body: { comment: { body: 'spam' } },
    });
    const path = `/articles/${article.slug}/comments/${c.body.comment.id}`;
    expect((await server.api.delete(path, { token: author.token })).status).toBe(403);
    expect((await server.api.delete(path, { token: editor.token })).status).toBe(204);
    const log = await server.api.get(
      `/admin/audit-log?action=comment.delete&targetId=${c.body.comment.id}`,
      { token: admin.token },
    );
    expect(log.body.entriesCount).toBe(1);
  });
});

describe('drafts', () => {
  it('when an author saves a draft, then only the author and editors can see it', async () => {
    const draft = await server.api.createArticle(author.token, {
      title: 'Secret draft',
      status: 'draft',
    } as never);
    expect(draft.status).toBe('draft');
    expect((await server.api.get(`/articles/${draft.slug}`)).status).toBe(404);
    expect((await server.api.get(`/articles/${draft.slug}`, { token: viewer.token })).status).toBe(
      404,
    );
    expect((await server.api.get(`/articles/${draft.slug}`, { token: author.token })).status).toBe(
      200,
    );
    expect((await server.api.get(`/articles/${draft.slug}`, { token: editor.token })).status).toBe(
      200,
    );
    const publicList = await server.api.get(`/articles?author=${author.username}`);
    expect(publicList.body.articles.map((a: { slug: string }) => a.slug)).not.toContain(draft.slug);
    const own = await server.api.get('/articles?status=draft', { token: author.token });
    expect(own.body.articles.map((a: { slug: string }) => a.slug)).toContain(draft.slug);
    const othersView = await server.api.get('/articles?status=draft', { token: viewer.token });
    expect(othersView.body.articles).toEqual([]);
    const published = await server.api.put(`/articles/${draft.slug}`, {
      token: author.token,
      body: { article: { status: 'published' } },
    });
    expect(published.body.article.status).toBe('published');
    expect((await server.api.get(`/articles/${draft.slug}`)).status).toBe(200);
  });

  it('when a RealWorld client sends no status, then the article is published', async () => {
    const article = await server.api.createArticle(author.token, { title: 'Plain client' });
    expect(article.status).toBe('published');
  });
});

describe('admin', () => {
  it('when an admin lists and searches users, then matches come back with roles', async () => {
    const res = await server.api.get(`/admin/users?q=${editor.username.slice(0, 12)}`, {
      token: admin.token,
    });
    expect(res.status).toBe(200);
    expect(
      res.body.users.find((u: { username: string }) => u.username === editor.username),
    ).toMatchObject({ role: 'editor', suspended: false });
    expect(
      (await server.api.get('/admin/users?role=viewer', { token: admin.token })).body.users.every(
        (u: { role: string }) => u.role === 'viewer',
      ),
    ).toBe(true);
  });

  it('when a non-admin calls the admin API, then 403', async () => {
    for (const who of [viewer, author, editor]) {
      expect((await server.api.get('/admin/users', { token: who.token })).status).toBe(403);
      expect(
        (
          await server.api.put(`/admin/users/${who.username}/role`, {
            token: who.token,
            body: { user: { role: 'admin' } },
          })
        ).status,
      ).toBe(403);
    }
  });

  it('when an admin suspends a user, then their token stops at once; reactivation allows login again', async () => {
    const target = await server.api.register('target');
    const res = await server.api.post(`/admin/users/${target.username}/suspension`, {
      token: admin.token,
    });
    expect(res.body.user.suspended).toBe(true);
    expect((await server.api.get('/user', { token: target.token })).status).toBe(401);
    const login = await server.api.post('/users/login', {
      body: { user: { email: target.email, password: target.password } },
    });
    expect(login.status).toBe(401);
    expect(login.body.errors).toEqual({ account: ['is suspended'] });
    await server.api.delete(`/admin/users/${target.username}/suspension`, { token: admin.token });
    const back = await server.api.post('/users/login', {
      body: { user: { email: target.email, password: target.password } },
    });
    expect(back.status).toBe(200);
    const actions = (
      await server.api.get(
        `/admin/audit-log?targetType=user&targetId=${(await server.api.get(`/admin/users?q=${target.username}`, { token: admin.token })).body.users[0].id}`,
        { token: admin.token },
      )
    ).body.entries.map((e: { action: string }) => e.action);
    expect(actions).toEqual(['user.reactivate', 'user.suspend']);
  });

  it('when writes are frozen, then non-admin writes get 503 with Retry-After, reads work, admins still write', async () => {
    const article = await server.api.createArticle(author.token, { title: 'Before freeze' });
    expect(
      (
        await server.api.put('/admin/maintenance', {
          token: admin.token,
          body: { maintenance: { writeFreeze: true } },
        })
      ).status,
    ).toBe(200);
    try {
      const blocked = await server.api.post(`/articles/${article.slug}/comments`, {
        token: author.token,
        body: { comment: { body: 'x' } },
      });
      expect(blocked.status).toBe(503);
      expect(blocked.headers.get('retry-after')).toBe('60');
      expect(
        (
          await server.api.post('/users', {
            body: {
              user: {
                username: `frozen${Date.now()}`,
                email: `f${Date.now()}@example.com`,
                password: 'long enough pw',
              },
            },
          })
        ).status,
      ).toBe(503);
      expect((await server.api.get(`/articles/${article.slug}`)).status).toBe(200);
      expect(
        (
          await server.api.post(`/articles/${article.slug}/comments`, {
            token: admin.token,
            body: { comment: { body: 'admin note' } },
          })
        ).status,
      ).toBe(200);
    } finally {
      await server.api.put('/admin/maintenance', {
        token: admin.token,
        body: { maintenance: { writeFreeze: false } },
      });
    }
    expect(
      (
        await server.api.post(`/articles/${article.slug}/comments`, {
          token: author.token,
          body: { comment: { body: 'thawed' } },
        })
      ).status,
    ).toBe(200);
  });
});

describe('job queues', () => {
  it('when an admin looks at the queues, then each queue reports its job counts; others get 403', async () => {
    const res = await server.api.get('/admin/queues', { token: admin.token });
    expect(res.status).toBe(200);
    expect(res.body.queues).toEqual(
      QUEUE_NAMES.map((name) =>
        expect.objectContaining({
          name,
          waiting: expect.any(Number),
          failed: expect.any(Number),
          paused: false,
        }),
      ),
    );
    expect((await server.api.get('/admin/queues', { token: editor.token })).status).toBe(403);
  });
});
