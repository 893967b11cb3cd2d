// Data exports end to end against real PostgreSQL and Redis, with local storage in a temporary
// STORAGE_DIR: the API call → the outbox → the relay → Bull → the processor → the export shown
// done, and its file downloaded through the API's signed link.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  BUILD_EXPORT,
  EXPORTS_QUEUE,
  jobRequest,
  PURGE_EXPORTS,
  type JobRequest,
} from '../../service/src/jobs/contracts.js';
import { enqueue } from '../../service/src/jobs/outbox.js';
import {
  createStorage,
  DownloadSigner,
  type ObjectStorage,
} from '../../service/src/storage/index.js';
import { freePort } from '../../service/test/support/process.js';
import { startTestServer, type TestServer } from '../../service/test/support/server.js';
import { startSession } from '../../service/test/support/sessions.js';
import { until } from '../../service/test/support/wait.js';
import { startWorker, type RunningWorker } from '../src/worker.js';
import {
  download,
  expectExportOf,
  settledExport,
  tempStorageDir,
  usersWithData,
  type ExpectedExport,
} from './support/exports.js';
import { silentLogger, closeJobsTest } from './support/queues.js';

jest.setTimeout(60_000);

let storage: Awaited<ReturnType<typeof tempStorageDir>>;
let server: TestServer;
let worker: RunningWorker;
let data: ExpectedExport;
/** The owner's export, built by the first test. */
let built: { id: string; downloadUrl: string };
let failPuts = false;

beforeAll(async () => {
  storage = await tempStorageDir();
  const port = await freePort();
  server = await startTestServer(
    {
      OUTBOX_POLL_MS: '50',
      STORAGE_DIR: storage.dir,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      // Several pages per section, so paging and progress are exercised.
      EXPORT_PAGE_SIZE: '2',
      EXPORT_MAX_PER_DAY: '3',
      // Quick retries for the failing-storage test.
      JOB_BACKOFF_DELAY_MS: '10',
    },
    { port },
  );
  const real = createStorage(server.config).storage;
  // The worker's storage, which a test can make refuse writes.
  const workerStorage: ObjectStorage = {
    driver: real.driver,
    put: (key, body, type) =>
      failPuts
        ? Promise.reject(new Error('storage unavailable (test)'))
        : real.put(key, body, type),
    get: (key) => real.get(key),
    delete: (keys) => real.delete(keys),
    downloadUrl: (key, options) => real.downloadUrl(key, options),
  };
  worker = await startWorker(
    { config: server.config, orm: server.orm, logger: silentLogger(), storage: workerStorage },
    { concurrency: 2 },
  );
  data = await usersWithData(server, 'e2e', worker);
}, 60_000);

afterAll(() => closeJobsTest({ worker, server, storage }));

const fileOf = (id: string) => path.join(storage.dir, 'exports', String(userId), `${id}.json.gz`);
let userId: number;

/** Writes a job as a producer does and waits for its Bull job to complete; its return value. */
async function runThroughOutbox(request: JobRequest): Promise<unknown> {
  const [id] = await server.orm.em.fork().transactional((em) => enqueue(em, request));
  const queue = worker.queue(request.contract.queue);
  await until(async () => (await (await queue.getJob(id!))?.isCompleted()) === true, 30_000);
  return (await queue.getJob(id!))!.returnvalue;
}

describe('a data export', () => {
  it('when a user requests one, then it is queued with its job, built by the worker with progress 100, and its link downloads exactly their data', async () => {
    const token = data.user.token;
    const res = await server.api.post('/user/exports', { token });
    expect(res.status).toBe(202);
    expect(res.body.export).toMatchObject({
      status: 'queued',
      progress: 0,
    });
    expect(res.body.export).not.toHaveProperty('downloadUrl');
    const id = res.body.export.id as string;
    const [row] = await server.sql<{ user_id: number; payload: unknown }>(
      `select e.user_id, o.payload from data_exports e
       join outbox o on o.name = ? and o.payload->>'exportId' = e.id::text where e.id = ?`,
      [BUILD_EXPORT.name, id],
    );
    expect(row!.payload).toEqual({ exportId: id });
    userId = row!.user_id;

    // One in flight at a time: asking again returns it (unless the worker finished already).
    const again = await server.api.post('/user/exports', { token });
    expect(again.status).toBe(202);
    if (again.body.export.status !== 'done') expect(again.body.export.id).toBe(id);

    const done = await settledExport(server, token, id);
    expect(done).toMatchObject({ id, status: 'done', progress: 100, error: null });
    expect(done.sizeBytes).toBe((await stat(fileOf(id))).size);
    const expiresIn = Date.parse(done.expiresAt) - Date.parse(done.finishedAt);
    expect(expiresIn).toBe(server.config.EXPORT_RETENTION_DAYS * 24 * 3600 * 1000);
    const linkExpiresIn = Date.parse(done.downloadUrlExpiresAt) - Date.now();
    expect(linkExpiresIn).toBeLessThanOrEqual(server.config.EXPORT_LINK_TTL_SECONDS * 1000);
    expect(linkExpiresIn).toBeGreaterThan(server.config.EXPORT_LINK_TTL_SECONDS * 1000 - 60_000);
    expect(done.downloadUrl.startsWith(`${server.baseUrl}/media/download/exports/`)).toBe(true);

    const file = await download(done.downloadUrl);
    expect(file.status).toBe(200);
    expect(file.type).toBe('application/gzip');
    expectExportOf(file.json, data, id);
    built = { id, downloadUrl: done.downloadUrl };

    // Each read signs a fresh link; the list shows the export too.
    const list = await server.api.get('/user/exports', { token });
    expect(list.status).toBe(200);
    expect(list.body.exports.map((e: { id: string }) => e.id)).toContain(id);
  });

  it('when its link is tampered with or has expired, then 403 and nothing is served', async () => {
    const tampered: ((url: URL) => void)[] = [
      (url) =>
        url.searchParams.set('signature', `${url.searchParams.get('signature')!.slice(0, -2)}AA`),
      (url) =>
        url.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600)),
      (url) => url.searchParams.set('filename', 'other.json.gz'),
      (url) => (url.pathname = url.pathname.replace(`/${userId}/`, `/${userId + 1}/`)),
    ];
    for (const tamper of tampered) {
      const url = new URL(built.downloadUrl);
      tamper(url);
      expect(url.href).not.toBe(built.downloadUrl);
      const res = await download(url.href);
      expect({ href: url.href, status: res.status }).toEqual({ href: url.href, status: 403 });
    }
    // A link signed with the server's own key, an hour ago, for 15 minutes.
    const key = new URL(built.downloadUrl).pathname.replace('/media/download/', '');
    const old = new DownloadSigner(
      server.config.JWT_SECRET,
      server.baseUrl,
      () => Date.now() - 3600_000,
    );
    const expired = await download(old.url(key, { expiresInSeconds: 900, filename: 'x.json.gz' }));
    expect(expired.status).toBe(403);
    expect(expired.text).toContain('has expired');
  });

  it('when another user asks for it, then 404 as if it did not exist; anonymous, 401; it is not in their list', async () => {
    const other = await server.register('e2estranger');
    expect((await server.api.get(`/user/exports/${built.id}`, { token: other.token })).status).toBe(
      404,
    );
    expect((await server.api.get(`/user/exports/${built.id}`)).status).toBe(401);
    const list = await server.api.get('/user/exports', { token: other.token });
    expect(list.body.exports).toEqual([]);
    expect((await server.api.get('/user/exports/not-a-uuid', { token: other.token })).status).toBe(
      422,
    );
  });

  it('when its job runs again after it is done, then nothing is rebuilt and the file is unchanged', async () => {
    const before = await readFile(fileOf(built.id));
    const result = await runThroughOutbox(jobRequest(BUILD_EXPORT, { exportId: built.id }));
    expect(result).toEqual({ built: false, reason: expect.stringContaining('done') });
    expect((await readFile(fileOf(built.id))).equals(before)).toBe(true);
  });

  it('when a cookie session requests one without the CSRF token, then 403 and nothing is queued; with it, 202', async () => {
    const user = await server.register('e2ecsrf');
    const session = await startSession(server, user);
    const refused = await server.api.post('/user/exports', { headers: { Cookie: session.cookie } });
    expect(refused.status).toBe(403);
    const [{ n }] = (await server.sql<{ n: number }>(
      `select count(*)::int as n from data_exports e join users u on u.id = e.user_id where u.username = ?`,
      [user.username],
    )) as [{ n: number }];
    expect(n).toBe(0);
    const ok = await server.api.post('/user/exports', {
      headers: { Cookie: session.cookie, 'X-CSRF-Token': session.csrf },
    });
    expect(ok.status).toBe(202);
  });

  it('when one user sends several requests at once, then all get the same export and one job is queued', async () => {
    const user = await server.register('e2erace');
    // Held here, so no export can finish (and make room for a second) while they arrive.
    const queue = worker.queue(EXPORTS_QUEUE);
    await queue.pause(true);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => server.api.post('/user/exports', { token: user.token })),
    ).finally(() => queue.resume(true));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
    const ids = new Set(answers.map((a) => a.body.export.id));
    expect(ids.size).toBe(1);
    const [counts] = await server.sql<{ exports: number; jobs: number }>(
      `select (select count(*)::int from data_exports e join users u on u.id = e.user_id
               where u.username = ?) as exports,
              (select count(*)::int from outbox where name = ? and payload->>'exportId' = ?) as jobs`,
      [user.username, BUILD_EXPORT.name, [...ids][0]],
    );
    expect(counts).toEqual({ exports: 1, jobs: 1 });
  });

  it('when a user has requested EXPORT_MAX_PER_DAY exports in 24 hours, then the next is 429 with Retry-After', async () => {
    const user = await server.register('e2equota');
    await server.sql(
      `insert into data_exports (id, user_id, status, progress, created_at)
       select gen_random_uuid(), u.id, 'failed', 0, now() - make_interval(hours => h)
       from users u, generate_series(1, 3) h where u.username = ?`,
      [user.username],
    );
    const res = await server.api.post('/user/exports', { token: user.token });
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    // The oldest of the three is 3 hours old: free again in about 21 hours.
    expect(retryAfter).toBeGreaterThan(20 * 3600);
    expect(retryAfter).toBeLessThanOrEqual(21 * 3600);
  });

  it('when storing fails on every attempt, then it ends failed with a readable error after its attempts, and a new one can be requested', async () => {
    const user = await server.register('e2efail');
    failPuts = true;
    let first: any;
    try {
      const res = await server.api.post('/user/exports', { token: user.token });
      expect(res.status).toBe(202);
      first = await settledExport(server, user.token, res.body.export.id);
    } finally {
      failPuts = false;
    }
    expect(first).toMatchObject({
      status: 'failed',
      error: 'the export could not be built; please request a new one',
    });
    expect(first).not.toHaveProperty('downloadUrl');
    const [job] = await server.sql<{ id: string }>(
      `select id::text as id from outbox where name = ? and payload->>'exportId' = ?`,
      [BUILD_EXPORT.name, first.id],
    );
    const failed = await worker.queue(EXPORTS_QUEUE).getJob(job!.id);
    expect(failed!.attemptsMade).toBe(failed!.opts.attempts);
    expect(failed!.failedReason).toBe('storage unavailable (test)');

    const again = await server.api.post('/user/exports', { token: user.token });
    expect(again.status).toBe(202);
    expect(again.body.export.id).not.toBe(first.id);
    expect(await settledExport(server, user.token, again.body.export.id)).toMatchObject({
      status: 'done',
    });
  });

  it('when it is past its retention, then the purge job deletes its file and its record', async () => {
    await server.sql(
      `update data_exports set expires_at = now() - interval '1 minute' where id = ?`,
      [built.id],
    );
    const result = await runThroughOutbox(jobRequest(PURGE_EXPORTS, {}));
    expect(result).toMatchObject({ deleted: 1 });
    await expect(stat(fileOf(built.id))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await server.sql('select id from data_exports where id = ?', [built.id])).toEqual([]);
    expect(
      (await server.api.get(`/user/exports/${built.id}`, { token: data.user.token })).status,
    ).toBe(404);
    // The old link finds nothing either.
    expect((await download(built.downloadUrl)).status).toBe(404);
  });
});
