// Every job type end to end against real PostgreSQL, Redis and an SMTP server: the API call (or,
// for maintenance jobs that no request produces, an outbox row) → the outbox → the relay → Bull →
// the processor → a result visible outside the worker.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  COMMENT_EMAIL,
  jobRequest,
  PRUNE_UNUSED_TAGS,
  PURGE_AUDIT_LOG,
  PURGE_OUTBOX,
  RECOMPUTE_TRENDING_TAGS,
  WELCOME_EMAIL,
  type JobRequest,
} from '../../service/src/jobs/contracts.js';
import type { Job } from '../../service/src/jobs/queue.js';
import { enqueue } from '../../service/src/jobs/outbox.js';
import { startTestServer, type TestServer } from '../../service/test/support/server.js';
import { startSmtpServer, type TestSmtpServer } from '../../service/test/support/smtp.js';
import { startWorker, type RunningWorker } from '../src/worker.js';
import { completedJob as completedJobOf, silentLogger, closeJobsTest } from './support/queues.js';

// Each test waits for a job to travel the whole path; generous on a loaded machine.
jest.setTimeout(60_000);

let smtp: TestSmtpServer;
let server: TestServer;
let worker: RunningWorker;

beforeAll(async () => {
  smtp = await startSmtpServer();
  server = await startTestServer({ ...smtp.env, OUTBOX_POLL_MS: '50' });
  worker = await startWorker(
    { config: server.config, orm: server.orm, logger: silentLogger() },
    { concurrency: 2 },
  );
}, 60_000);

afterAll(() => closeJobsTest({ worker, smtp, server }));

interface OutboxRow {
  id: string;
  queue: string;
  name: string;
  payload: Record<string, unknown>;
  meta: Record<string, string>;
  sent_at: Date | null;
}

const outboxRows = (name: string) =>
  server.sql<OutboxRow>(
    'select id::text as id, queue, name, payload, meta, sent_at from outbox where name = ? order by id',
    [name],
  );

/** The Bull job of an outbox row once it completed (jobId = the row's id). */
function completedJob(row: OutboxRow): Promise<Job> {
  return completedJobOf(worker.queue(row.queue), row.id);
}

/** Writes a job as a producer does (an outbox row, committed) and waits for its completion. */
async function runThroughOutbox(request: JobRequest): Promise<Job> {
  const [id] = await server.orm.em
    .fork()
    .transactional((em) => enqueue(em, request, { requestId: 'maintenance-e2e' }));
  const [fresh] = await server.sql<OutboxRow>(
    'select id::text as id, queue, name, payload, meta, sent_at from outbox where id = ?',
    [id],
  );
  return completedJob(fresh!);
}

describe('email jobs', () => {
  it('when a user registers, then the welcome email arrives once, with a plain-text part and a stable Message-ID, and the job carries the request id', async () => {
    const res = await server.api.post('/users', {
      body: {
        user: {
          username: 'welcome-e2e',
          email: 'welcome-e2e@example.com',
          password: 'correct horse battery staple',
        },
      },
    });
    expect(res.status).toBe(201);
    const [row] = await outboxRows(WELCOME_EMAIL.name);
    const [user] = await server.sql<{ id: number }>('select id from users where username = ?', [
      'welcome-e2e',
    ]);
    expect(row).toMatchObject({
      queue: 'email',
      payload: { userId: user!.id },
      meta: { requestId: res.headers.get('x-request-id') },
    });

    const job = await completedJob(row!);
    const messageId = `<welcome-${user!.id}@plinth.test>`;
    expect(job.returnvalue).toEqual({ sent: true, messageId });
    expect(job.data).toEqual({ payload: row!.payload, meta: row!.meta });
    const mails = smtp.received.filter((m) => m.header('message-id') === messageId);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toEqual(['welcome-e2e@example.com']);
    expect(mails[0]!.header('subject')).toBe('Welcome to Plinth');
    expect(mails[0]!.raw).toMatch(/Content-Type: text\/plain/i);
    expect(mails[0]!.raw).toMatch(/Content-Type: text\/html/i);
    const [sent] = await outboxRows(WELCOME_EMAIL.name);
    expect(sent!.sent_at).not.toBeNull();
  });

  it("when someone comments on an author's article, then the author gets one email; their own comments send none", async () => {
    const author = await server.register('author');
    const reader = await server.register('reader');
    const article = await server.api.createArticle(author.token, { title: 'Comment mail e2e' });
    const own = await server.api.post(`/articles/${article.slug}/comments`, {
      token: author.token,
      body: { comment: { body: 'my own note' } },
    });
    expect(own.status).toBe(200);
    const res = await server.api.post(`/articles/${article.slug}/comments`, {
      token: reader.token,
      body: { comment: { body: 'Nice <b>post</b>' } },
    });
    expect(res.status).toBe(200);
    const commentId = res.body.comment.id as number;

    const rows = await outboxRows(COMMENT_EMAIL.name);
    expect(rows.map((r) => r.payload)).toEqual([{ commentId }]);
    const job = await completedJob(rows[0]!);
    const messageId = `<comment-${commentId}@plinth.test>`;
    expect(job.returnvalue).toEqual({ sent: true, messageId });
    const mails = smtp.received.filter((m) => m.header('message-id') === messageId);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toEqual([author.email]);
    expect(mails[0]!.header('subject')).toBe('New comment on "Comment mail e2e"');
    // User text is escaped in the HTML part.
    expect(mails[0]!.raw).toContain('Nice &lt;b&gt;post&lt;/b&gt;');
  });
});

describe('maintenance jobs', () => {
  it('purge-outbox deletes sent rows past the retention, never unsent ones', async () => {
    await server.sql(
      `insert into outbox (queue, name, payload, meta, created_at, sent_at) values
       ('email', 'welcome-email', '{"userId":1}', '{}', now() - interval '30 days', now() - interval '30 days'),
       ('nowhere', 'welcome-email', '{"userId":2}', '{}', now() - interval '30 days', null)`,
    );
    const job = await runThroughOutbox(jobRequest(PURGE_OUTBOX, {}));
    expect(job.returnvalue).toMatchObject({ outbox: 1 });
    const left = await server.sql<{ queue: string }>(
      `select queue from outbox where created_at < now() - interval '1 day'`,
    );
    expect(left).toEqual([{ queue: 'nowhere' }]);
  });

  it('purge-audit-log deletes entries older than the retention', async () => {
    await server.sql(
      `insert into audit_log (action, target_type, target_id, created_at) values
       ('old.action', 'user', '1', now() - interval '400 days'),
       ('new.action', 'user', '1', now())`,
    );
    const job = await runThroughOutbox(jobRequest(PURGE_AUDIT_LOG, {}));
    expect(job.returnvalue).toEqual({ deleted: 1 });
    const actions = await server.sql<{ action: string }>('select action from audit_log');
    expect(actions.map((a) => a.action)).toContain('new.action');
    expect(actions.map((a) => a.action)).not.toContain('old.action');
  });

  it('recompute-trending-tags puts recently used tags first in /api/tags', async () => {
    const u = await server.register('trend');
    // "evergreen" is used most, but by old articles; "fresh" only recently.
    for (let i = 0; i < 3; i++) await server.api.createArticle(u.token, { tagList: ['evergreen'] });
    await server.api.createArticle(u.token, { tagList: ['fresh'] });
    await server.sql(
      `update articles set created_at = now() - interval '100 days'
       where id in (select article_id from article_tags at join tags t on t.id = at.tag_id
                    where t.name = 'evergreen')`,
    );
    const before = (await server.api.get('/tags')).body.tags as string[];
    expect(before.indexOf('evergreen')).toBeLessThan(before.indexOf('fresh'));
    await runThroughOutbox(jobRequest(RECOMPUTE_TRENDING_TAGS, {}));
    const after = (await server.api.get('/tags')).body as { tags: string[] };
    expect(after.tags.indexOf('fresh')).toBeLessThan(after.tags.indexOf('evergreen'));
  });

  it('prune-unused-tags deletes the tags a deleted article left behind', async () => {
    const u = await server.register('prune');
    const article = await server.api.createArticle(u.token, { tagList: ['orphaned-e2e'] });
    await server.api.delete(`/articles/${article.slug}`, { token: u.token });
    const job = await runThroughOutbox(jobRequest(PRUNE_UNUSED_TAGS, {}));
    expect(job.returnvalue).toMatchObject({ deleted: expect.any(Number) });
    expect(await server.sql(`select 1 from tags where name = 'orphaned-e2e'`)).toEqual([]);
  });
});
