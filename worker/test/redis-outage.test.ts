// (b) Redis is stopped while the API takes writes, then restarted: the writes succeed, their jobs
// wait in the outbox, and once Redis is back every job is delivered, none twice. A private Redis.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { WELCOME_EMAIL } from '../../service/src/jobs/contracts.js';
import { startTestServer, type TestServer } from '../../service/test/support/server.js';
import { startSmtpServer, type TestSmtpServer } from '../../service/test/support/smtp.js';
import { startPrivateStore, type PrivateStore } from '../../service/test/support/stores.js';
import { until } from '../../service/test/support/wait.js';
import { startWorker, type RunningWorker } from '../src/worker.js';
import { silentLogger } from './support/queues.js';

jest.setTimeout(120_000);

let redis: PrivateStore;
let smtp: TestSmtpServer;
let server: TestServer;
let worker: RunningWorker;

beforeAll(async () => {
  redis = await startPrivateStore('redis');
  smtp = await startSmtpServer();
  server = await startTestServer({ ...smtp.env, REDIS_URL: redis.url, OUTBOX_POLL_MS: '50' });
  worker = await startWorker(
    { config: server.config, orm: server.orm, logger: silentLogger() },
    { concurrency: 2 },
  );
}, 60_000);

afterAll(async () => {
  await worker?.close(10_000);
  await smtp?.close();
  await server?.close();
  await redis?.remove();
});

const unsent = async () =>
  Number(
    (await server.sql<{ n: string }>('select count(*) as n from outbox where sent_at is null'))[0]!
      .n,
  );

describe('Redis outage while the API takes writes', () => {
  it('when Redis is down, then registrations still succeed, their welcome jobs wait in the outbox, and after the restart each is delivered exactly once', async () => {
    // Before the outage: the path works, and nothing is in flight when Redis goes.
    await server.api.register('before');
    await until(() => smtp.received.length === 1, 30_000);

    await redis.stop();
    const accounts = await Promise.all(
      Array.from({ length: 10 }, (_, i) => server.api.register(`outage${i}`)),
    );
    expect(accounts).toHaveLength(10);
    // The relay claims nothing while Redis is away: the rows stay unsent, not lost.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await unsent()).toBe(10);
    expect(smtp.received).toHaveLength(1);

    await redis.start();
    await until(async () => smtp.received.length >= 11 && (await unsent()) === 0, 60_000);
    // Long enough for a duplicate to show up if there were one.
    await new Promise((r) => setTimeout(r, 1_000));
    const ids = smtp.received.map((m) => m.header('message-id'));
    expect(new Set(ids).size).toBe(ids.length);
    expect(
      smtp.received
        .slice(1)
        .map((m) => m.to[0])
        .sort(),
    ).toEqual(accounts.map((a) => a.email).sort());
    const rows = await server.sql<{ n: string }>(
      'select count(*) as n from outbox where name = ?',
      [WELCOME_EMAIL.name],
    );
    expect(Number(rows[0]!.n)).toBe(11);
  });
});
