// The worker is killed with SIGKILL at named points of a notification fan-out — between two
// batches, in the middle of a batch (its INSERT ran, not committed) and after a batch committed
// but before Bull recorded it — then a new worker starts. Whatever the point, the
// article's notifications end up being exactly its author's followers, once each: the declared
// semantics (at-least-once batches, effectively once by the (article_id, user_id) key). A rerun
// of the plan itself is covered by notifications-e2e.test.ts.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { NOTIFICATIONS_QUEUE } from '../../service/src/jobs/contracts.js';
import type { Account } from '../../service/test/support/client.js';
import { startTestServer, type TestServer } from '../../service/test/support/server.js';
import { until } from '../../service/test/support/wait.js';
import { startWorker } from '../src/worker.js';
import { crashAt } from './support/crash.js';
import { deleteQueueKeys, silentLogger } from './support/queues.js';

jest.setTimeout(90_000);

/** Short locks, so a killed worker's job is found stalled within seconds. */
const LOCK_MS = '1000';
/** 7 followers in batches of 3: three batch jobs per article. */
const BATCH = '3';
const FOLLOWERS = 7;

/** Per point: passes to let go by, and the rows committed when the worker died. */
const POINTS: [name: string, point: string, skip: number, rowsAtCrash: number][] = [
  ['between batches (one committed, the next not started)', 'batch:before-insert', 1, 3],
  ['mid-batch (INSERT ran, not committed)', 'batch:before-commit', 0, 0],
  ['after a batch committed, before Bull completed it', 'batch:after-commit', 0, 3],
];

let server: TestServer;
let author: Account;
let followerIds: number[];
const env = { OUTBOX_POLL_MS: '50', JOB_LOCK_DURATION_MS: LOCK_MS, NOTIFICATION_BATCH_SIZE: BATCH };

beforeAll(async () => {
  server = await startTestServer(env);
  author = await server.register('killauthor');
  for (let i = 0; i < FOLLOWERS; i++) {
    const follower = await server.register(`killfollower${i}`);
    await server.api.post(`/profiles/${author.username}/follow`, { token: follower.token });
  }
  await server.register('bystander');
  followerIds = (
    await server.sql<{ follower_id: number }>(
      `select follower_id from follows f join users u on u.id = f.followee_id
       where u.username = ? order by follower_id`,
      [author.username],
    )
  ).map((r) => r.follower_id);
  expect(followerIds).toHaveLength(FOLLOWERS);
}, 60_000);

afterAll(async () => {
  const prefix = server?.config.REDIS_KEY_PREFIX;
  await server?.close();
  if (prefix) await deleteQueueKeys(prefix);
});

const notified = async (articleId: number) =>
  (
    await server.sql<{ user_id: number }>(
      'select user_id from notifications where article_id = ? order by user_id',
      [articleId],
    )
  ).map((r) => r.user_id);

describe('a worker killed during a notification fan-out', () => {
  it.each(POINTS)(
    'when killed %s, then a new worker finishes it and every follower has exactly one notification',
    async (_name, point, skip, rowsAtCrash) => {
      const article = await server.api.createArticle(author.token, { title: `Killed ${point}` });
      const [{ id }] = (await server.sql<{ id: number }>('select id from articles where slug = ?', [
        article.slug,
      ])) as [{ id: number }];

      expect(await crashAt(server, point, env, skip)).toBe('SIGKILL');
      expect(await notified(id)).toHaveLength(rowsAtCrash);

      const worker = await startWorker(
        { config: server.config, orm: server.orm, logger: silentLogger() },
        { concurrency: 2 },
      );
      try {
        const queue = worker.queue(NOTIFICATIONS_QUEUE);
        // Done when the stalled job ran again and nothing of the fan-out is left to run.
        await until(async () => {
          const counts = await queue.getJobCounts();
          return (
            counts.waiting + counts.active + counts.delayed === 0 &&
            (await notified(id)).length >= FOLLOWERS
          );
        }, 60_000);
        expect(await notified(id)).toEqual(followerIds);
        expect((await queue.getJobCounts()).failed).toBe(0);
      } finally {
        await worker.close(10_000);
      }
    },
  );
});
