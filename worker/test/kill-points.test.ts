// (a) The worker is killed with SIGKILL at named points of a job; a new worker starts and the job
// completes. Email: the number of messages the SMTP server received is what the job's declared
// semantics (at-least-once, stable Message-ID) promise at that point. Avatar: the end state is
// the same at every point (the new image applied, the old files and the staged original removed,
// no other file left). A private Redis: the killed processes leave connections and locks behind.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  AVATAR_RESIZE,
  EMAIL_QUEUE,
  IMAGES_QUEUE,
  WELCOME_EMAIL,
} from '../../service/src/jobs/contracts.js';
import type { Account } from '../../service/test/support/client.js';
import { form, sampleImage, tempStorage } from '../../service/test/support/images.js';
import { startTestServer, type TestServer } from '../../service/test/support/server.js';
import { startSmtpServer, type TestSmtpServer } from '../../service/test/support/smtp.js';
import { startPrivateStore, type PrivateStore } from '../../service/test/support/stores.js';
import { until } from '../../service/test/support/wait.js';
import { startWorker } from '../src/worker.js';
import { silentLogger } from './support/queues.js';
import { crashAt as crashAtPoint } from './support/crash.js';

jest.setTimeout(120_000);

/** Messages received per point: the declared semantics of email jobs. */
const DECLARED = {
  // Nothing left the worker: the rerun sends the one message.
  'before-send': 1,
  // Accepted but not recorded: the rerun sends it again, with the same Message-ID.
  'after-send': 2,
  // Done and recorded: nothing runs again.
  'after-complete': 1,
} as const;

let redis: PrivateStore;
let smtp: TestSmtpServer;
let server: TestServer;
let storage: Awaited<ReturnType<typeof tempStorage>>;
/** Short locks, so a killed worker's job is found stalled within seconds. */
const LOCK_MS = '1000';

beforeAll(async () => {
  redis = await startPrivateStore('redis');
  smtp = await startSmtpServer();
  storage = await tempStorage();
  server = await startTestServer({
    ...smtp.env,
    STORAGE_DIR: storage.dir,
    REDIS_URL: redis.url,
    OUTBOX_POLL_MS: '50',
    JOB_LOCK_DURATION_MS: LOCK_MS,
  });
}, 60_000);

afterAll(async () => {
  await smtp?.close();
  await server?.close();
  await redis?.remove();
  await storage?.remove();
});

/** Runs the crash worker until it kills itself at `point`. */
const crashAt = (point: string, env: Record<string, string> = {}) =>
  crashAtPoint(server, point, {
    ...smtp.env,
    REDIS_URL: redis.url,
    OUTBOX_POLL_MS: '50',
    JOB_LOCK_DURATION_MS: LOCK_MS,
    STORAGE_DIR: storage.dir,
    ...env,
  });

describe('a worker killed during an email job', () => {
  it.each(Object.entries(DECLARED))(
    'when killed at %s, then a new worker completes the job and the server received %i message(s) with its Message-ID',
    async (point, expected) => {
      const account = await server.api.register(point);
      const [row] = await server.sql<{ id: string; user_id: number }>(
        `select o.id::text as id, u.id as user_id from outbox o
         join users u on u.id = (o.payload->>'userId')::int
         where o.name = ? and u.username = ?`,
        [WELCOME_EMAIL.name, account.username],
      );
      const messageId = `<welcome-${row!.user_id}@plinth.test>`;
      const received = () =>
        smtp.received.filter((m) => m.header('message-id') === messageId).length;

      expect(await crashAt(point)).toBe('SIGKILL');
      expect(received()).toBe(point === 'before-send' ? 0 : 1);

      const worker = await startWorker(
        { config: server.config, orm: server.orm, logger: silentLogger() },
        { concurrency: 1 },
      );
      try {
        const queue = worker.queue(EMAIL_QUEUE);
        await until(
          async () => (await (await queue.getJob(row!.id))?.isCompleted()) === true,
          60_000,
        );
        // Past another stall check: nothing else runs it.
        await new Promise((r) => setTimeout(r, 3 * Number(LOCK_MS)));
        expect(received()).toBe(expected);
        const [delivery] = await server.sql(
          'select recipient from email_deliveries where message_id = ?',
          [messageId],
        );
        expect(delivery).toEqual({ recipient: account.email });
      } finally {
        await worker.close(10_000);
      }
    },
  );
});

describe('a worker killed during an avatar job', () => {
  const POINTS = ['before-store', 'after-store', 'after-update', 'after-complete'] as const;
  /** Per point: a user whose first avatar is done, and that avatar's upload id and image. */
  const users = new Map<string, { account: Account; userId: number; first: string }>();

  const uploadOf = async (account: Account, bytes: Buffer): Promise<string> => {
    const res = await server.api.put('/user/avatar', {
      token: account.token,
      raw: form([{ bytes }]),
    });
    expect(res.status).toBe(202);
    return res.body.avatarUpload.id as string;
  };
  const statusOf = async (id: string) =>
    (
      await server.sql<{ status: string }>('select status from avatar_uploads where id = ?', [id])
    )[0]?.status;
  const filesOf = async (userId: number) =>
    (await storage.files()).filter((f) => f.split('/')[1] === String(userId));
  const sizesOf = (userId: number, uploadId: string) =>
    [64, 128, 256].map((s) => `avatars/${userId}/${uploadId}-${s}.webp`).sort();

  beforeAll(async () => {
    const image = await sampleImage('png', 200, 120);
    for (const point of POINTS) {
      const account = await server.api.register(`kill-${point}`);
      const [row] = await server.sql<{ id: number }>('select id from users where username = ?', [
        account.username,
      ]);
      users.set(point, { account, userId: row!.id, first: await uploadOf(account, image) });
    }
    const worker = await startWorker(
      { config: server.config, orm: server.orm, logger: silentLogger() },
      { concurrency: 1 },
    );
    try {
      await until(async () => {
        const states = await Promise.all([...users.values()].map((u) => statusOf(u.first)));
        return states.every((s) => s === 'done');
      }, 60_000);
    } finally {
      await worker.close(10_000);
    }
  }, 90_000);

  it.each(POINTS)(
    'when killed at %s, then a new worker finishes: the new image applied, only its files left',
    async (point) => {
      const { account, userId, first } = users.get(point)!;
      const second = await uploadOf(account, await sampleImage('jpeg', 100, 100));
      const [job] = await server.sql<{ id: string }>(
        "select id::text as id from outbox where name = ? and payload->>'uploadId' = ?",
        [AVATAR_RESIZE.name, second],
      );

      expect(await crashAt(point, { CRASH_QUEUE: IMAGES_QUEUE })).toBe('SIGKILL');
      // What the crash left: nothing stored yet, stored but not applied, applied but the old
      // files not yet removed, or everything done.
      const left = await filesOf(userId);
      const original = left.filter((f) => f.startsWith('uploads/'));
      expect(await statusOf(second)).toBe(
        point === 'after-update' || point === 'after-complete' ? 'done' : 'pending',
      );
      expect(left.filter((f) => f.includes(second) && f.startsWith('avatars/'))).toEqual(
        point === 'before-store' ? [] : sizesOf(userId, second),
      );
      expect(left.filter((f) => f.includes(first))).toEqual(
        point === 'after-complete' ? [] : sizesOf(userId, first),
      );
      expect(original).toEqual(
        point === 'after-complete' ? [] : [`uploads/${userId}/${second}.jpg`],
      );

      const worker = await startWorker(
        { config: server.config, orm: server.orm, logger: silentLogger() },
        { concurrency: 1 },
      );
      try {
        const queue = worker.queue(IMAGES_QUEUE);
        await until(
          async () => (await (await queue.getJob(job!.id))?.isCompleted()) === true,
          60_000,
        );
        // Past another stall check: nothing else runs it.
        await new Promise((r) => setTimeout(r, 3 * Number(LOCK_MS)));
      } finally {
        await worker.close(10_000);
      }
      expect(await statusOf(second)).toBe('done');
      const { body } = await server.api.get('/user', { token: account.token });
      expect(body.user.image).toBe(
        `${server.config.PUBLIC_URL}/media/avatars/${userId}/${second}-256.webp`,
      );
      expect(await filesOf(userId)).toEqual(sizesOf(userId, second));
      const [replaced] = await server.sql<{ removed: boolean }>(
        'select files_removed_at is not null as removed from avatar_uploads where id = ?',
        [first],
      );
      expect(replaced).toEqual({ removed: true });
    },
  );
});
