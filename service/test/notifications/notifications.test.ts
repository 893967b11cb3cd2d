// The notifications API: a user's own notifications only, newest first, paged like the other
// lists, marked read one by one or all at once, and the digest setting. The rows are written
// here as the worker's fan-out writes them (worker/test/notifications-e2e.test.ts drives that).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Account } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startSession } from '../support/sessions.js';

let server: TestServer;
let author: Account;
let reader: Account;
let other: Account;
/** The reader's notifications' ids, oldest first. */
let ids: number[];
let slugs: string[];

const userId = async (username: string) =>
  (await server.sql<{ id: number }>('select id from users where username = ?', [username]))[0]!.id;

/** Notifies `username` of each article, oldest first (as the fan-out's batches do). */
async function notify(username: string, articleSlugs: string[]): Promise<number[]> {
  const out: number[] = [];
  for (const slug of articleSlugs) {
    const [row] = await server.sql<{ id: string }>(
      `insert into notifications (user_id, article_id, created_at)
       select ?, id, now() from articles where slug = ? returning id::text as id`,
      [await userId(username), slug],
    );
    out.push(Number(row!.id));
  }
  return out;
}

beforeAll(async () => {
  server = await startTestServer();
  author = await server.register('nauthor');
  reader = await server.register('nreader');
  other = await server.register('nother');
  slugs = [];
  for (let i = 0; i < 5; i++) {
    slugs.push((await server.api.createArticle(author.token, { title: `Notified ${i}` })).slug);
  }
  ids = await notify(reader.username, slugs);
  await notify(other.username, slugs.slice(0, 1));
});
afterAll(() => server.close());

const list = (token: string, query = '') => server.api.get(`/notifications${query}`, { token });

describe('listing', () => {
  it('when a user lists notifications, then only their own come, newest first, with both counts', async () => {
    const res = await list(reader.token);
    expect(res.status).toBe(200);
    expect(res.body.notifications.map((n: { id: number }) => n.id)).toEqual([...ids].reverse());
    expect(res.body).toMatchObject({ notificationsCount: 5, unreadCount: 5 });
    expect(res.body.notifications[0]).toEqual({
      id: ids[4],
      type: 'article-published',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      readAt: null,
      article: { slug: slugs[4], title: 'Notified 4' },
      author: { username: author.username, image: '' },
    });
  });

  it('when paged with limit and offset, then the pages follow each other without gaps or repeats', async () => {
    const pages = [];
    for (const offset of [0, 2, 4])
      pages.push((await list(reader.token, `?limit=2&offset=${offset}`)).body);
    expect(pages.flatMap((p) => p.notifications.map((n: { id: number }) => n.id))).toEqual(
      [...ids].reverse(),
    );
    expect(pages.map((p) => p.notificationsCount)).toEqual([5, 5, 5]);
    const beyond = await list(reader.token, '?offset=50');
    expect(beyond.body).toEqual({ notifications: [], notificationsCount: 5, unreadCount: 5 });
  });

  it('when the query is malformed, then 422 naming the parameter', async () => {
    for (const query of ['?limit=0', '?limit=101', '?offset=-1', '?limit=abc', '?unread=true']) {
      const res = await list(reader.token, query);
      expect({ query, status: res.status }).toEqual({ query, status: 422 });
    }
    expect((await server.api.get('/notifications')).status).toBe(401);
  });

  it('when the article goes back to draft, then its notification is hidden and not counted', async () => {
    const draft = (await server.api.createArticle(author.token, { title: 'Unpublished later' }))
      .slug;
    await notify(reader.username, [draft]);
    expect((await list(reader.token)).body.notificationsCount).toBe(6);
    const res = await server.api.put(`/articles/${draft}`, {
      token: author.token,
      body: { article: { status: 'draft' } },
    });
    expect(res.status).toBe(200);
    const after = (await list(reader.token)).body;
    expect(after).toMatchObject({ notificationsCount: 5, unreadCount: 5 });
    expect(
      after.notifications.map((n: { article: { slug: string } }) => n.article.slug),
    ).not.toContain(draft);
  });
});

describe('marking read', () => {
  it('when a user marks one read, then it shows readAt and the unread count drops; marking again keeps the first time', async () => {
    const first = await server.api.post(`/notifications/${ids[1]}/read`, { token: reader.token });
    expect(first.status).toBe(200);
    expect(first.body.notification).toMatchObject({ id: ids[1], readAt: expect.any(String) });
    const again = await server.api.post(`/notifications/${ids[1]}/read`, { token: reader.token });
    expect(again.body.notification.readAt).toBe(first.body.notification.readAt);
    const page = (await list(reader.token)).body;
    expect(page.unreadCount).toBe(4);
    expect(page.notifications.find((n: { id: number }) => n.id === ids[1]).readAt).toBe(
      first.body.notification.readAt,
    );
  });

  it("when a user marks someone else's notification or an unknown one, then 404 and nothing changes", async () => {
    const [theirs] = (await list(other.token)).body.notifications;
    const res = await server.api.post(`/notifications/${theirs.id}/read`, { token: reader.token });
    expect(res.status).toBe(404);
    expect(res.body.errors).toEqual({ notification: expect.any(Array) });
    expect((await list(other.token)).body.unreadCount).toBe(1);
    expect(
      (await server.api.post('/notifications/999999999/read', { token: reader.token })).status,
    ).toBe(404);
    for (const bad of ['abc', '0x1', '1.5', '-1', '1234567890123456']) {
      const res = await server.api.post(`/notifications/${bad}/read`, { token: reader.token });
      expect({ bad, status: res.status }).toEqual({ bad, status: 422 });
    }
  });

  it('when a user marks all read, then only their own unread ones change', async () => {
    const res = await server.api.post('/notifications/read', { token: reader.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ marked: 4 });
    expect((await list(reader.token)).body.unreadCount).toBe(0);
    expect((await list(other.token)).body.unreadCount).toBe(1);
    expect((await server.api.post('/notifications/read', { token: reader.token })).body).toEqual({
      marked: 0,
    });
  });

  it('when a cookie session marks read without the CSRF token, then 403; with it, 200', async () => {
    const { cookie, csrf } = await startSession(server, other);
    const refused = await server.api.post('/notifications/read', { headers: { Cookie: cookie } });
    expect(refused.status).toBe(403);
    expect((await list(other.token)).body.unreadCount).toBe(1);
    const ok = await server.api.post('/notifications/read', {
      headers: { Cookie: cookie, 'X-CSRF-Token': csrf },
    });
    expect(ok.body).toEqual({ marked: 1 });
  });
});

describe('settings', () => {
  it('when a user turns the digest on and off, then their settings follow and nobody else’s change', async () => {
    const path = '/notifications/settings';
    expect((await server.api.get(path, { token: reader.token })).body).toEqual({
      settings: { digest: false },
    });
    const on = await server.api.put(path, {
      token: reader.token,
      body: { settings: { digest: true } },
    });
    expect(on.body).toEqual({ settings: { digest: true } });
    expect((await server.api.get(path, { token: reader.token })).body.settings.digest).toBe(true);
    expect((await server.api.get(path, { token: other.token })).body.settings.digest).toBe(false);
    await server.api.put(path, { token: reader.token, body: { settings: { digest: false } } });
    expect((await server.api.get(path, { token: reader.token })).body.settings.digest).toBe(false);
  });

  it('when the settings body is malformed, then 422 and nothing is stored', async () => {
    const path = '/notifications/settings';
    for (const body of [
      {},
      { settings: {} },
      { settings: { digest: 'yes' } },
      { settings: { digest: true, email: 'x@y.z' } },
      { digest: true },
    ]) {
      const res = await server.api.put(path, { token: other.token, body });
      expect({ body, status: res.status }).toEqual({ body, status: 422 });
    }
    expect(
      await server.sql('select 1 from notification_settings where user_id = ?', [
        await userId(other.username),
      ]),
    ).toEqual([]);
  });
});
