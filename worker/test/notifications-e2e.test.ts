// The notification jobs end to end against real PostgreSQL, Redis and an SMTP server: publishing
// an article (API) → the outbox → the relay → Bull → the fan-out plan → batch jobs → notification
// rows the followers list through the API; and the daily digest → one email per opted-in user.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  DIGEST_EMAIL,
  NOTIFICATIONS_QUEUE,
  NOTIFY_FOLLOWERS,
  NOTIFY_FOLLOWERS_BATCH,
  SCHEDULE_DIGESTS,
  jobRequest,
} from '../../service/src/jobs/contracts.js';
import { enqueue } from '../../service/src/jobs/outbox.js';
import type { Account } from '../../service/test/support/client.js';
import { startTestServer, type TestServer } from '../../service/test/support/server.js';
import { startSmtpServer, type TestSmtpServer } from '../../service/test/support/smtp.js';
import { until } from '../../service/test/support/wait.js';
import { utcDay } from '../src/processors/notifications.js';
import { startWorker, type RunningWorker } from '../src/worker.js';
import { completedJob, silentLogger, closeJobsTest } from './support/queues.js';

jest.setTimeout(60_000);

/** Small batches, so a handful of followers spans several batch jobs. */
const BATCH = 3;

let smtp: TestSmtpServer;
let server: TestServer;
let worker: RunningWorker;
let author: Account;
let followers: Account[];
let outsider: Account;

beforeAll(async () => {
  smtp = await startSmtpServer();
  server = await startTestServer({
    ...smtp.env,
    OUTBOX_POLL_MS: '50',
    NOTIFICATION_BATCH_SIZE: String(BATCH),
  });
  worker = await startWorker(
    { config: server.config, orm: server.orm, logger: silentLogger() },
    { concurrency: 2 },
  );
  author = await server.register('fanauthor');
  outsider = await server.register('outsider');
  followers = [];
  for (let i = 0; i < 7; i++) {
    const follower = await server.register(`follower${i}`);
    const res = await server.api.post(`/profiles/${author.username}/follow`, {
      token: follower.token,
    });
    expect(res.status).toBe(200);
    followers.push(follower);
  }
}, 60_000);

afterAll(() => closeJobsTest({ worker, smtp, server }));

const idOf = async (username: string) =>
  (await server.sql<{ id: number }>('select id from users where username = ?', [username]))[0]!.id;

/** The user ids notified of `articleId` (with duplicates, if there were any). */
const notified = async (articleId: number) =>
  (
    await server.sql<{ user_id: number }>(
      'select user_id from notifications where article_id = ? order by user_id',
      [articleId],
    )
  ).map((r) => r.user_id);

/** The fan-out outbox row of `articleId`, if one was written. */
const fanOutRow = async (articleId: number) =>
  (
    await server.sql<{ id: string; meta: Record<string, string> }>(
      `select id::text as id, meta from outbox where name = ? and (payload->>'articleId')::int = ?`,
      [NOTIFY_FOLLOWERS.name, articleId],
    )
  )[0];

/** Publishes through the API and returns the new article's id and slug. */
async function publish(token: string, title: string, status?: 'draft') {
  const res = await server.api.post('/articles', {
    token,
    body: { article: { title, description: 'd', body: 'b', ...(status ? { status } : {}) } },
  });
  expect(res.status).toBe(201);
  const [row] = await server.sql<{ id: number }>('select id from articles where slug = ?', [
    res.body.article.slug,
  ]);
  return {
    id: row!.id,
    slug: res.body.article.slug as string,
    requestId: res.headers.get('x-request-id'),
  };
}

let followerIds: number[];
let published: Awaited<ReturnType<typeof publish>>;

describe('fan-out', () => {
  it('when an author publishes, then every follower gets exactly one notification, in batch jobs of NOTIFICATION_BATCH_SIZE, and nobody else', async () => {
    followerIds = (await Promise.all(followers.map((f) => idOf(f.username)))).sort((a, b) => a - b);
    published = await publish(author.token, 'Fan-out e2e');
    const row = await fanOutRow(published.id);
    expect(row?.meta.requestId).toBe(published.requestId ?? undefined);
    const queue = worker.queue(NOTIFICATIONS_QUEUE);
    const plan = await completedJob(queue, row!.id);
    // 7 followers in pages of 3: (0, f3], (f3, f6], (f6, ∞).
    expect(plan.returnvalue).toEqual({ batches: 3 });
    const pages = [
      { after: 0, upTo: followerIds[2] },
      { after: followerIds[2], upTo: followerIds[5] },
      { after: followerIds[5], upTo: null },
    ];
    for (const page of pages) {
      const batch = await completedJob(queue, `notify:${published.id}:${page.after}`);
      expect(batch.name).toBe(NOTIFY_FOLLOWERS_BATCH.name);
      expect(batch.data).toEqual({
        payload: { articleId: published.id, ...page },
        meta: row!.meta,
      });
      expect(batch.returnvalue).toEqual({ inserted: page.upTo === null ? 1 : 3 });
    }
    expect(await notified(published.id)).toEqual(followerIds);

    const list = await server.api.get('/notifications', { token: followers[0]!.token });
    expect(list.status).toBe(200);
    expect(list.body).toEqual({
      notifications: [
        {
          id: expect.any(Number),
          type: 'article-published',
          createdAt: expect.any(String),
          readAt: null,
          article: { slug: published.slug, title: 'Fan-out e2e' },
          author: { username: author.username, image: '' },
        },
      ],
      notificationsCount: 1,
      unreadCount: 1,
    });
    const none = await server.api.get('/notifications', { token: outsider.token });
    expect(none.body).toMatchObject({ notifications: [], notificationsCount: 0 });
    expect((await server.api.get('/notifications', { token: author.token })).body).toMatchObject({
      notificationsCount: 0,
    });
  });

  it('when a batch or the whole fan-out runs again, then nobody is notified twice', async () => {
    const queue = worker.queue(NOTIFICATIONS_QUEUE);
    // A batch again under a new job id (as a re-planned page would be) and the plan again.
    const again = await queue.add(
      NOTIFY_FOLLOWERS_BATCH.name,
      { payload: { articleId: published.id, after: 0, upTo: null }, meta: {} },
      { jobId: `again:${published.id}` },
    );
    expect((await completedJob(queue, String(again.id))).returnvalue).toEqual({ inserted: 0 });
    await server.orm.em
      .fork()
      .transactional((em) =>
        enqueue(em, jobRequest(NOTIFY_FOLLOWERS, { articleId: published.id })),
      );
    const rows = await server.sql<{ id: string }>(
      `select id::text as id from outbox where name = ? and (payload->>'articleId')::int = ?
       order by id`,
      [NOTIFY_FOLLOWERS.name, published.id],
    );
    expect(rows).toHaveLength(2);
    expect((await completedJob(queue, rows[1]!.id)).returnvalue).toEqual({ batches: 3 });
    expect(await notified(published.id)).toEqual(followerIds);
  });

  it('when an article is saved as a draft, then nobody is notified until it is published', async () => {
    const draft = await publish(author.token, 'Draft first', 'draft');
    expect(await fanOutRow(draft.id)).toBeUndefined();
    const res = await server.api.put(`/articles/${draft.slug}`, {
      token: author.token,
      body: { article: { status: 'published' } },
    });
    expect(res.status).toBe(200);
    const row = await fanOutRow(draft.id);
    await completedJob(worker.queue(NOTIFICATIONS_QUEUE), row!.id);
    await until(async () => (await notified(draft.id)).length === followerIds.length, 30_000);
    expect(await notified(draft.id)).toEqual(followerIds);
  });
});

describe('daily digest', () => {
  it('when a follower opted in, then one digest arrives with a plain-text part and a stable Message-ID; scheduling again the same day sends nothing more', async () => {
    const reader = followers[1]!;
    const readerId = await idOf(reader.username);
    const on = await server.api.put('/notifications/settings', {
      token: reader.token,
      body: { settings: { digest: true } },
    });
    expect(on.body).toEqual({ settings: { digest: true } });
    // Another opted-in follower who read everything gets no digest.
    const done = followers[2]!;
    await server.api.put('/notifications/settings', {
      token: done.token,
      body: { settings: { digest: true } },
    });
    expect((await server.api.post('/notifications/read', { token: done.token })).body).toEqual({
      marked: 2,
    });

    const schedule = async () => {
      const [id] = await server.orm.em
        .fork()
        .transactional((em) => enqueue(em, jobRequest(SCHEDULE_DIGESTS, {})));
      return completedJob(worker.queue(SCHEDULE_DIGESTS.queue), id!);
    };
    const day = utcDay(new Date());
    expect((await schedule()).returnvalue).toEqual({ day, scheduled: 1 });
    const [digestRow] = await server.sql<{ id: string; payload: unknown }>(
      'select id::text as id, payload from outbox where name = ?',
      [DIGEST_EMAIL.name],
    );
    expect(digestRow!.payload).toEqual({ userId: readerId, day });
    const job = await completedJob(worker.queue(DIGEST_EMAIL.queue), digestRow!.id);
    const messageId = `<digest-${readerId}-${day}@plinth.test>`;
    expect(job.returnvalue).toEqual({ sent: true, messageId });
    const mails = smtp.received.filter((m) => m.header('message-id') === messageId);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toEqual([reader.email]);
    expect(mails[0]!.header('subject')).toBe('2 new articles from people you follow');
    expect(mails[0]!.raw).toMatch(/Content-Type: text\/plain/i);
    expect(mails[0]!.raw).toContain('Fan-out e2e');

    // The same day again: nobody is due (and the digested notifications would not count anyway).
    expect((await schedule()).returnvalue).toEqual({ day, scheduled: 0 });
    expect(smtp.received.filter((m) => m.header('message-id') === messageId)).toHaveLength(1);
    const [settings] = await server.sql<{ digested_until: Date | null }>(
      'select digested_until from notification_settings where user_id = ?',
      [readerId],
    );
    expect(settings!.digested_until).not.toBeNull();
  });
});
