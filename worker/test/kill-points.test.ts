// (a) The worker is killed with SIGKILL at named points of an email job; a new worker starts and
// the job completes, and the number of messages the SMTP server received is what the job's
// declared semantics (at-least-once, stable Message-ID) promise at that point. A private Redis:
// the killed processes leave connections and locks behind.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { EMAIL_QUEUE, WELCOME_EMAIL } from '../../service/src/jobs/contracts.js';
import { startTestServer, type TestServer } from '../../service/test/support/server.js';
import { startSmtpServer, type TestSmtpServer } from '../../service/test/support/smtp.js';
import { startPrivateStore, type PrivateStore } from '../../service/test/support/stores.js';
import { until } from '../../service/test/support/wait.js';
import { startWorker } from '../src/worker.js';
import { crashAt as crashAtPoint } from './support/crash.js';
import { silentLogger } from './support/queues.js';

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
/** Short locks, so a killed worker's job is found stalled within seconds. */
const LOCK_MS = '1000';

beforeAll(async () => {
  redis = await startPrivateStore('redis');
  smtp = await startSmtpServer();
  server = await startTestServer({
    ...smtp.env,
    REDIS_URL: redis.url,
    OUTBOX_POLL_MS: '50',
    JOB_LOCK_DURATION_MS: LOCK_MS,
  });
}, 60_000);

afterAll(async () => {
  await smtp?.close();
  await server?.close();
  await redis?.remove();
});

/** Runs the crash worker until it kills itself at `point`. */
const crashAt = (point: string) =>
  crashAtPoint(server, point, {
    ...smtp.env,
    REDIS_URL: redis.url,
    OUTBOX_POLL_MS: '50',
    JOB_LOCK_DURATION_MS: LOCK_MS,
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
