import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig, type Config } from '../../service/src/config.js';
import { connectOrm } from '../../service/src/db/orm.js';
import { createQueue, type Queue } from '../../service/src/jobs/queue.js';
import { MAINTENANCE_QUEUE, PRUNE_UNUSED_TAGS } from '../../service/src/jobs/queues.js';
import { Tag } from '../../service/src/modules/tags/tag.entity.js';
import { createTestDatabase, type TestDatabase } from '../../service/test/support/database.js';
import { testEnv } from '../../service/test/support/env.js';
import { REPO_ROOT } from '../../service/test/support/paths.js';
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
function startWorkerProcess() {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'worker/src/main.ts'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, ...env },
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
  return { proc, lines, logged, exited };
}

describe('worker process shutdown', () => {
  it('when SIGTERM arrives while a job runs, then the job completes first and the process exits 0', async () => {
    await orm.em.fork().insertMany(Tag, [{ name: 'left-behind-1' }, { name: 'left-behind-2' }]);
    // Hold the prune behind a table lock so the job is provably still running at SIGTERM.
    let release!: () => void;
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const lockHeld = orm.em.fork().transactional(async (em) => {
      await em.execute('lock table tags in share mode');
      locked();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await isLocked;

    const worker = startWorkerProcess();
    child = worker.proc;
    await worker.logged('worker ready');
    // Subscribe before enqueueing so the job's `active` event cannot be missed.
    const subscribed = new Promise((resolve) => queue.once('registered:global:active', resolve));
    const active = new Promise<void>((resolve) => queue.once('global:active', () => resolve()));
    await subscribed;
    const job = await queue.add(PRUNE_UNUSED_TAGS, {});
    await active;

    worker.proc.kill('SIGTERM');
    await worker.logged('shutting down');
    expect(worker.proc.exitCode).toBeNull();
    expect(await job.getState()).toBe('active');

    release();
    await lockHeld;
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
});
