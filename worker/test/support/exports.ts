import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { expect } from '@jest/globals';
import type { Account } from '../../../service/test/support/client.js';
import type { TestServer } from '../../../service/test/support/server.js';
import { until } from '../../../service/test/support/wait.js';
import { NOTIFY_FOLLOWERS } from '../../../service/src/jobs/contracts.js';
import type { RunningWorker } from '../../src/worker.js';

/** A temporary STORAGE_DIR for one test file. */
export async function tempStorageDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'plinth-exports-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** What a user's export must hold, from the data the test made through the API. */
export interface ExpectedExport {
  user: Account;
  articleSlugs: string[];
  commentIds: number[];
  favoriteSlugs: string[];
  following: string[];
  /**
   * Slugs of the articles the user was notified of (an article `other` published after the
   * follow); undefined without a worker: a fan-out run later (none ran during the setup) also
   * notifies whoever followed before it ran.
   */
  notifiedSlugs: string[] | undefined;
  /** Text of another user's data that must appear nowhere in the file. */
  foreign: string[];
}

/** Resolves once the notification fan-out of the article `slug` has completed in `worker`. */
async function fanOutDone(server: TestServer, worker: RunningWorker, slug: string): Promise<void> {
  const queue = worker.queue(NOTIFY_FOLLOWERS.queue);
  await until(async () => {
    const [row] = await server.sql<{ id: string }>(
      `select o.id::text as id from outbox o join articles a on a.id = (o.payload->>'articleId')::int
       where o.name = ? and a.slug = ? and o.sent_at is not null`,
      [NOTIFY_FOLLOWERS.name, slug],
    );
    return row !== undefined && (await (await queue.getJob(row.id))?.isCompleted()) === true;
  }, 30_000);
}

/**
 * Two users with data each through the API: `owner` writes 3 articles (one tagged), comments on
 * their own and the other's article, favorites the other's article and follows them; `other`
 * writes an article, comments on the owner's and favorites it and, given the running `worker`,
 * publishes one more, which notifies the owner. Enough rows for several pages at
 * EXPORT_PAGE_SIZE=2.
 */
export async function usersWithData(
  server: TestServer,
  prefix: string,
  worker?: RunningWorker,
): Promise<ExpectedExport> {
  const { api } = server;
  const owner = await api.register(`${prefix}own`);
  const other = await api.register(`${prefix}oth`);
  const articles = [];
  for (const n of [1, 2, 3]) {
    articles.push(
      await api.createArticle(owner.token, {
        title: `${prefix} owner article ${n}`,
        ...(n === 1 ? { tagList: ['export-tag'] } : {}),
      }),
    );
  }
  const theirs = await api.createArticle(other.token, {
    title: `${prefix} other article`,
    body: `${prefix} other secret body`,
  });
  // Fan-outs read followers when they run: the owner follows `other` only once the fan-out of
  // `other`'s first article is done, or a late run would notify them of it too.
  if (worker) await fanOutDone(server, worker, theirs.slug);
  const comment = async (token: string, slug: string, body: string) => {
    const res = await api.post(`/articles/${slug}/comments`, {
      token,
      body: { comment: { body } },
    });
    expect(res.status).toBe(200);
    return res.body.comment.id as number;
  };
  const commentIds = [
    await comment(owner.token, articles[0].slug, 'owner on own'),
    await comment(owner.token, theirs.slug, 'owner on theirs'),
  ];
  await comment(other.token, articles[0].slug, `${prefix} other secret comment`);
  expect((await api.post(`/articles/${theirs.slug}/favorite`, { token: owner.token })).status).toBe(
    200,
  );
  expect(
    (await api.post(`/articles/${articles[1].slug}/favorite`, { token: other.token })).status,
  ).toBe(200);
  expect(
    (await api.post(`/profiles/${other.username}/follow`, { token: owner.token })).status,
  ).toBe(200);
  let notifiedSlugs: string[] | undefined;
  if (worker) {
    // Published after the follow: the fan-out (run by the test's worker) notifies the owner.
    const news = await api.createArticle(other.token, { title: `${prefix} other news` });
    await until(async () => {
      const res = await api.get('/notifications', { token: owner.token });
      return res.body.notifications?.some((n: any) => n.article.slug === news.slug) === true;
    }, 30_000);
    notifiedSlugs = [news.slug];
  }
  return {
    user: owner,
    articleSlugs: articles.map((a) => a.slug as string),
    commentIds,
    favoriteSlugs: [theirs.slug],
    following: [other.username],
    notifiedSlugs,
    foreign: [other.email, `${prefix} other secret body`, `${prefix} other secret comment`],
  };
}

/** Polls the export until it is done (or failed); returns the last response body's export. */
export async function settledExport(
  server: TestServer,
  token: string,
  id: string,
  timeoutMs = 45_000,
) {
  let last: any;
  await until(async () => {
    const res = await server.api.get(`/user/exports/${id}`, { token });
    expect(res.status).toBe(200);
    last = res.body.export;
    return last.status === 'done' || last.status === 'failed';
  }, timeoutMs);
  return last;
}

/** Downloads a link and parses the gzipped JSON it serves. */
export async function download(
  url: string,
): Promise<{ status: number; type: string | null; json?: any; text?: string }> {
  const res = await fetch(url);
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200)
    return { status: res.status, type: res.headers.get('content-type'), text: bytes.toString() };
  return {
    status: 200,
    type: res.headers.get('content-type'),
    json: JSON.parse(gunzipSync(bytes).toString('utf8')),
  };
}

/** The file holds exactly the user's data, and nothing of anyone else's. */
export function expectExportOf(file: any, expected: ExpectedExport, exportId: string): void {
  expect(file.format).toBe('plinth-export/1');
  expect(file.exportId).toBe(exportId);
  expect(file.profile).toMatchObject({
    username: expected.user.username,
    email: expected.user.email,
  });
  expect(file.profile).not.toHaveProperty('passwordHash');
  expect(file.profile).not.toHaveProperty('password_hash');
  expect(file.articles.map((a: { slug: string }) => a.slug)).toEqual(expected.articleSlugs);
  expect(file.articles[0].tagList).toEqual(['export-tag']);
  expect(file.comments.map((c: { id: number }) => c.id)).toEqual(expected.commentIds);
  expect(file.favorites.map((f: { articleSlug: string }) => f.articleSlug)).toEqual(
    expected.favoriteSlugs,
  );
  expect(file.following.map((f: { username: string }) => f.username)).toEqual(expected.following);
  const notifications: { articleSlug: string; author: string }[] = file.notifications;
  if (expected.notifiedSlugs) {
    expect(notifications.map((n) => n.articleSlug)).toEqual(expected.notifiedSlugs);
  } else {
    // Only ever of articles by authors the user follows.
    for (const n of notifications) expect(expected.following).toContain(n.author);
  }
  expect(file.notificationSettings).toBeNull();
  const text = JSON.stringify(file);
  for (const foreign of expected.foreign) expect(text).not.toContain(foreign);
}
