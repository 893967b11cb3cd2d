import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig, SHUTDOWN_EXIT_MARGIN_MS, type Config } from '../../service/src/config.js';
import { connectOrm } from '../../service/src/db/orm.js';
import { createQueue, type Queue } from '../../service/src/jobs/queue.js';
import { MAINTENANCE_QUEUE, PRUNE_UNUSED_TAGS } from '../../service/src/jobs/contracts.js';
import { Tag } from '../../service/src/modules/tags/tag.entity.js';
import { createTestDatabase, type TestDatabase } from '../../service/test/support/database.js';
import { testEnv } from '../../service/test/support/env.js';
import { REPO_ROOT } from '../../service/test/support/paths.js';
import { holdTableLock } from '../../service/test/support/locks.js';
import { startPrivateStore } from '../../service/test/support/stores.js';
import { deleteQueueKeys, silentLogger } from './support/queues.js';

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let config: Config;
let orm: MikroORM;
let queue: Queue;
let child: ChildProcess | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db.url, { LOG_LEVEL: 'info', WORKER_SHUTDOWN_TIMEOUT_MS: '30000' });
  config = loadConfig(env);
  orm = await connectOrm(config);
  queue = createQueue(MAINTENANCE_QUEUE, config, silentLogger());
});

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await queue?.close();
  await orm?.close(true);
  await db?.drop();
  if (config) await deleteQueueKeys(config.REDIS_KEY_PREFIX);
});

/** The real `npm run start:worker` entry; resolves each time a log line matches. */
function startWorkerProcess(overrides: Record<string, string> = {}) {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'worker/src/main.ts'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, ...env, ...overrides },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: { match: string; resolve: () => void }[] = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const entry = JSON.parse(line) as Record<string, unknown>;
    lines.push(entry);
    for (const w of waiters) if (String(entry.msg).startsWith(w.match)) w.resolve();
  });
  const logged = (match: string) =>
    new Promise<void>((resolve) => {
      if (lines.some((l) => String(l.msg).startsWith(match))) resolve();
      else waiters.push({ match, resolve });
    });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  /** The exit code if the process exits within `ms`, else 'running'. */
  const exitedWithin = async (ms: number) => {
    let timer: NodeJS.Timeout | undefined;
    const running = new Promise<'running'>((resolve) => {
      timer = setTimeout(() => resolve('running'), ms);
    });
    try {
      return await Promise.race([exited, running]);
    } finally {
      clearTimeout(timer);
    }
  };
  return { proc, lines, logged, exited, exitedWithin };
}

let subscribed: Promise<unknown> | undefined;

/** Starts the worker process and a prune job that is active (blocked on the lock) in it. */
async function workerWithActiveJob(overrides: Record<string, string> = {}) {
  const worker = startWorkerProcess(overrides);
  child = worker.proc;
  await worker.logged('worker ready');
  // Subscribe before enqueueing so the job's `active` event cannot be missed (Bull subscribes
  // once per event name, on the first listener).
  subscribed ??= new Promise((resolve) => queue.once('registered:global:active', resolve));
  const active = new Promise<void>((resolve) => queue.once('global:active', () => resolve()));
  await subscribed;
  const job = await queue.add(PRUNE_UNUSED_TAGS.name, {});
  await active;
  return { worker, job };
}

describe('worker process shutdown', () => {
  it('when SIGTERM arrives while a job runs, then the job completes first and the process exits 0', async () => {
    await orm.em.fork().insertMany(Tag, [{ name: 'left-behind-1' }, { name: 'left-behind-2' }]);
    const lock = await holdTableLock(orm, 'lock table tags in share mode');
    const { worker, job } = await workerWithActiveJob();

    worker.proc.kill('SIGTERM');
    await worker.logged('shutting down');
    expect(worker.proc.exitCode).toBeNull();
    expect(await job.getState()).toBe('active');

    await lock.release();
    expect(await worker.exited).toBe(0);
    const messages = worker.lines.map((l) => String(l.msg));
    const finished = messages.findIndex((m) => m.startsWith('pruned 2 unused tag(s)'));
    const closed = messages.findIndex((m) => m.startsWith('queues closed'));
    expect(finished).toBeGreaterThan(-1);
    expect(closed).toBeGreaterThan(finished);
    const done = await queue.getJob(job.id);
    expect(await done!.getState()).toBe('completed');
    expect(done!.returnvalue).toEqual({ deleted: 2 });
    expect(await orm.em.fork().count(Tag, {})).toBe(0);
  }, 60_000);

  it('when an active job outlives WORKER_SHUTDOWN_TIMEOUT_MS, then the process exits 1 within the bound while the job is still blocked', async () => {
    const lock = await holdTableLock(orm, 'lock table tags in share mode');
    try {
      const { worker } = await workerWithActiveJob({ WORKER_SHUTDOWN_TIMEOUT_MS: '1000' });
      worker.proc.kill('SIGTERM');
      // Timeout + exit margin, plus room for a loaded test machine.
      expect(await worker.exitedWithin(1000 + SHUTDOWN_EXIT_MARGIN_MS + 3000)).toBe(1);
      expect(worker.lines.map((l) => l.msg)).toContain(
        'shutdown timeout reached: active jobs will stall and run again on another worker',
      );
    } finally {
      await lock.release();
    }
  }, 60_000);

  it('when SIGTERM arrives during start-up (Redis hung), then the process exits 0 at once', async () => {
    const redis = await startPrivateStore('redis');
    try {
      await redis.freeze();
      const worker = startWorkerProcess({ REDIS_URL: redis.url });
      child = worker.proc;
      await worker.logged('worker starting');
      worker.proc.kill('SIGTERM');
      expect(await worker.exitedWithin(SHUTDOWN_EXIT_MARGIN_MS + 3000)).toBe(0);
      expect(worker.lines.map((l) => l.msg)).toContain('shutting down during start-up');
      expect(worker.lines.map((l) => l.msg)).not.toContain('worker ready');
    } finally {
      await redis.remove();
    }
  }, 60_000);
});
