// Retryable and final failures, against a real SMTP server that refuses on command: (c) a job
// that fails twice then succeeds ends completed with its attempts visible; (d) a final failure
// lands in the dead-letter list, and an admin re-queues it through the API.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { WELCOME_EMAIL } from '../../service/src/jobs/contracts.js';
import type { Job } from '../../service/src/jobs/queue.js';
import { startTestServer, type TestServer } from '../../service/test/support/server.js';
import { startSmtpServer, type TestSmtpServer } from '../../service/test/support/smtp.js';
import { until } from '../../service/test/support/wait.js';
import { startWorker, type RunningWorker } from '../src/worker.js';
import { silentLogger, closeJobsTest } from './support/queues.js';

jest.setTimeout(60_000);

let smtp: TestSmtpServer;
let server: TestServer;
let worker: RunningWorker;
let adminToken: string;

beforeAll(async () => {
  smtp = await startSmtpServer();
  server = await startTestServer({
    ...smtp.env,
    OUTBOX_POLL_MS: '50',
    // Retries 200 ms, 400 ms … apart instead of seconds.
    JOB_BACKOFF_DELAY_MS: '200',
  });
  worker = await startWorker(
    { config: server.config, orm: server.orm, logger: silentLogger() },
    { concurrency: 1 },
  );
  adminToken = (await server.register('admin', 'admin')).token;
  // The admin's own welcome mail, out of the way before the SMTP server starts refusing.
  await until(() => smtp.received.length === 1, 30_000);
}, 60_000);

afterAll(() => closeJobsTest({ worker, smtp, server }));

/** Registers a user and returns the Bull job id of its welcome mail (its outbox row's id). */
async function welcomeJobOf(prefix: string): Promise<{ jobId: string; messageId: string }> {
  const account = await server.api.register(prefix);
  const [row] = await server.sql<{ id: string; user_id: number }>(
    `select o.id::text as id, u.id as user_id from outbox o
     join users u on u.id = (o.payload->>'userId')::int
     where o.name = ? and u.username = ?`,
    [WELCOME_EMAIL.name, account.username],
  );
  return { jobId: row!.id, messageId: `<welcome-${row!.user_id}@plinth.test>` };
}

async function jobInState(jobId: string, state: 'completed' | 'failed'): Promise<Job> {
  const queue = worker.queue(WELCOME_EMAIL.queue);
  await until(async () => (await (await queue.getJob(jobId))?.getState()) === state, 30_000);
  // Read after the state change, so the job's fields are the final ones.
  return (await queue.getJob(jobId))!;
}

const deliveredWith = (messageId: string) =>
  smtp.received.filter((m) => m.header('message-id') === messageId).length;

describe('retries', () => {
  it('(c) when the SMTP server refuses twice with 451, then the third attempt delivers and the job ends completed with its two failed attempts recorded', async () => {
    let offered = 0;
    smtp.judge(() => {
      offered += 1;
      return offered <= 2
        ? { accept: false, code: 451, message: 'Try again later' }
        : { accept: true };
    });
    const { jobId, messageId } = await welcomeJobOf('retry');
    const job = await jobInState(jobId, 'completed');
    // Bull counts the failed attempts; the third one succeeded.
    expect(job.attemptsMade).toBe(2);
    expect(job.stacktrace).toEqual([
      expect.stringMatching(/SMTP 451/),
      expect.stringMatching(/SMTP 451/),
    ]);
    expect(offered).toBe(3);
    expect(job.returnvalue).toEqual({ sent: true, messageId });
    expect(deliveredWith(messageId)).toBe(1);
  });

  it('(d) when the SMTP server refuses for good (550), then the job is a dead letter after one attempt; an admin re-queues it and it is delivered', async () => {
    smtp.judge(() => ({ accept: false, code: 550, message: 'Mailbox unavailable' }));
    const { jobId, messageId } = await welcomeJobOf('dead');
    const failed = await jobInState(jobId, 'failed');
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toMatch(/^SMTP 550/);

    const list = await server.api.get('/admin/jobs/failed?queue=email', { token: adminToken });
    expect(list.status).toBe(200);
    expect(list.body.jobs).toContainEqual(
      expect.objectContaining({
        id: jobId,
        queue: 'email',
        name: WELCOME_EMAIL.name,
        attemptsMade: 1,
        failedReason: expect.stringMatching(/^SMTP 550/),
      }),
    );

    smtp.judge(() => ({ accept: true }));
    const retried = await server.api.post(`/admin/jobs/email/${jobId}/retry`, {
      token: adminToken,
    });
    expect(retried.status).toBe(200);
    expect(retried.body).toEqual({ job: { id: jobId, queue: 'email' } });
    const done = await jobInState(jobId, 'completed');
    expect(done.returnvalue).toEqual({ sent: true, messageId });
    expect(deliveredWith(messageId)).toBe(1);
    const after = await server.api.get('/admin/jobs/failed?queue=email', { token: adminToken });
    expect(after.body.jobs.map((j: { id: string }) => j.id)).not.toContain(jobId);
    const audit = await server.api.get('/admin/audit-log?action=job.retry', { token: adminToken });
    expect(audit.body.entries).toContainEqual(
      expect.objectContaining({ action: 'job.retry', targetId: `email:${jobId}` }),
    );
  });
});
