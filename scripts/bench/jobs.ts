/**
 * `npm run bench:jobs [-- --jobs N]` (builds first): then the notifications section
 * (./notifications.ts: fan-out time to 10,000 followers, the list's CPU per request).
 *
 * Jobs per second through the transactional outbox (rows
 * written in transactions → the relay → Bull → a no-op processor) against the baseline, plain
 * Bull `add` → the same no-op processor, each timed from the first insert (or add) to the last
 * completion, in one run, on the same Redis and queue settings. Prints a table and the ratio and
 * writes the figures as JSON under `.local/bench/`. Everything runs in this one process (producers,
 * relay, processor) on both paths. jobs/s moves with the machine's load; the CPU time per job of
 * this process, of its PostgreSQL backends and of Redis barely does, so the table has both. Uses
 * a database of its own (on TEST_DATABASE_URL, else the local server) and a private Redis
 * (scripts/stores.sh), and removes them afterwards.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { loadConfig, type Config } from '../../service/src/config.js';
import { connectOrm } from '../../service/src/db/orm.js';
import { MAINTENANCE_QUEUE, type JobContract } from '../../service/src/jobs/contracts.js';
import { enqueue } from '../../service/src/jobs/outbox.js';
import { createQueue, type Queue } from '../../service/src/jobs/queue.js';
import { createLogger } from '../../service/src/logger.js';
import { createTestDatabase } from '../../service/test/support/database.js';
import { testEnv } from '../../service/test/support/env.js';
import { REPO_ROOT } from '../../service/test/support/paths.js';
import { startPrivateStore } from '../../service/test/support/stores.js';
import { startRelay } from '../../worker/src/relay.js';
import { backendsOf, CpuMeter } from './measure.js';
import { notificationsSection } from './notifications.js';

/** A job that does nothing, on the maintenance queue (no rate limit), for both paths. */
const NOOP: JobContract = {
  name: 'bench-noop',
  queue: MAINTENANCE_QUEUE,
  payload: z.strictObject({ i: z.number().int() }),
};
/** Jobs the processor runs at once, the same on both paths. */
const CONCURRENCY = 50;
/** Rows per producer transaction (a request writes one; many requests write at once). */
const INSERT_BATCH = 100;
/** Producer transactions in flight at once. */
const PRODUCERS = 4;

const logger = createLogger({ level: 'warn' });

/** The pid of the Redis server at `url` (INFO server), for its CPU time. */
async function redisProcessId(url: string): Promise<number> {
  const client = new Redis(url);
  try {
    const info = await client.info('server');
    return Number(/^process_id:(\d+)/m.exec(info)![1]);
  } finally {
    client.disconnect();
  }
}

/** Resolves once `n` jobs completed on `queue` (local events of this process's processor). */
function completions(queue: Queue, n: number): Promise<number> {
  return new Promise((resolve) => {
    let done = 0;
    queue.on('completed', () => {
      done += 1;
      if (done === n) resolve(performance.now());
    });
  });
}

async function processNoop(queue: Queue): Promise<void> {
  void queue.process(NOOP.name, CONCURRENCY, async () => undefined);
  await queue.setWorkerName();
}

/** Plain Bull: `add` each job (adds in flight together, as many producers would), no-op processor. */
async function baseline(config: Config, jobs: number): Promise<number> {
  const queue = createQueue(MAINTENANCE_QUEUE, config, logger);
  try {
    await processNoop(queue);
    const finished = completions(queue, jobs);
    const start = performance.now();
    for (let i = 0; i < jobs; i += INSERT_BATCH * PRODUCERS) {
      const adds: Promise<unknown>[] = [];
      for (let j = i; j < Math.min(i + INSERT_BATCH * PRODUCERS, jobs); j++) {
        adds.push(queue.add(NOOP.name, { payload: { i: j }, meta: {} }));
      }
      await Promise.all(adds);
    }
    return (await finished) - start;
  } finally {
    await queue.close();
  }
}

/** The outbox: rows committed in producer transactions, relayed in batches, no-op processor. */
async function outbox(
  config: Config,
  orm: MikroORM,
  jobs: number,
): Promise<{ totalMs: number; insertMs: number }> {
  const queue = createQueue(MAINTENANCE_QUEUE, config, logger);
  const relay = startRelay(
    { orm, logger, queues: new Map([[MAINTENANCE_QUEUE, queue]]) },
    { batchSize: config.OUTBOX_BATCH_SIZE, pollMs: config.OUTBOX_POLL_MS },
  );
  try {
    await processNoop(queue);
    const finished = completions(queue, jobs);
    const start = performance.now();
    let next = 0;
    const producer = async () => {
      while (next < jobs) {
        const from = next;
        next = Math.min(next + INSERT_BATCH, jobs);
        const requests = Array.from({ length: next - from }, (_, k) => ({
          contract: NOOP,
          payload: { i: from + k },
        }));
        await orm.em.fork().transactional((em) => enqueue(em, requests));
      }
    };
    await Promise.all(Array.from({ length: PRODUCERS }, producer));
    const inserted = performance.now();
    return { totalMs: (await finished) - start, insertMs: inserted - start };
  } finally {
    await relay.stop();
    await queue.close();
  }
}

export const jobsSection = {
  name: 'jobs',
  description:
    'Jobs/s from the first insert to the last completion: outbox (transactions → relay → Bull → ' +
    'no-op) vs plain Bull add → the same no-op processor (baseline).',
  async run(jobs = 20_000) {
    const db = await createTestDatabase();
    // A Redis of its own: its CPU time is then this run's alone (the shared one serves others).
    const redis = await startPrivateStore('redis');
    const redisPid = await redisProcessId(redis.url);
    // Each path gets a key prefix of its own, so neither sees the other's jobs.
    const env = testEnv(db.url, { LOG_LEVEL: 'warn', REDIS_URL: redis.url });
    const baseConfig = loadConfig(env);
    const outboxConfig = loadConfig({ ...env, REDIS_KEY_PREFIX: `${env.REDIS_KEY_PREFIX}ob:` });
    const orm = await connectOrm(outboxConfig);
    try {
      // Warm-up of both paths (connections, scripts loaded into Redis, JIT).
      await baseline(baseConfig, 500);
      await outbox(outboxConfig, orm, 500);
      await orm.em.fork().execute('truncate outbox');
      // CPU time per job, which the load of other processes barely moves (jobs/s it does): this
      // process (producers, relay, processor), the PostgreSQL backends of its pool, Redis.
      let app = new CpuMeter([process.pid]);
      let kv = new CpuMeter([redisPid]);
      const baselineMs = await baseline(baseConfig, jobs);
      const baselineCpu = { app: app.spent(), db: 0, redis: kv.spent() };
      const backends = await backendsOf(orm, process.pid);
      const pg = new CpuMeter(backends);
      app = new CpuMeter([process.pid]);
      kv = new CpuMeter([redisPid]);
      const { totalMs: outboxMs, insertMs } = await outbox(outboxConfig, orm, jobs);
      const outboxCpu = {
        app: app.spent(),
        db: pg.spent(await backendsOf(orm, process.pid)),
        redis: kv.spent(),
      };
      const baselineRate = (jobs / baselineMs) * 1000;
      const outboxRate = (jobs / outboxMs) * 1000;
      const ratio = outboxRate / baselineRate;
      const perJob = (ms: number) => Math.round((ms * 1000) / jobs);
      const row = (name: string, ms: number, rate: number, cpu: typeof outboxCpu) =>
        `| ${name} | ${jobs} | ${(ms / 1000).toFixed(2)} | ${Math.round(rate)} | ` +
        `${perJob(cpu.app)} | ${perJob(cpu.db)} | ${perJob(cpu.redis)} |`;
      const table = [
        '| path | jobs | seconds | jobs/s | CPU µs/job: bench process | PostgreSQL | Redis |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
        row('plain Bull add → no-op (baseline)', baselineMs, baselineRate, baselineCpu),
        row('outbox → relay → Bull → no-op', outboxMs, outboxRate, outboxCpu),
        '',
        `outbox / baseline: ${ratio.toFixed(2)}× (targets: ≥ 2000 jobs/s and ≥ 0.5×); ` +
          `the outbox rows were all committed after ${(insertMs / 1000).toFixed(2)} s; ` +
          `load average at the end: ${loadavg()[0]!.toFixed(2)} (${cpus().length} CPUs)`,
      ].join('\n');
      return {
        table,
        data: {
          jobs,
          concurrency: CONCURRENCY,
          relayBatch: outboxConfig.OUTBOX_BATCH_SIZE,
          baseline: { ms: baselineMs, jobsPerSecond: baselineRate, cpuMs: baselineCpu },
          outbox: { ms: outboxMs, insertMs, jobsPerSecond: outboxRate, cpuMs: outboxCpu },
          loadAverage: loadavg(),
          ratio,
        },
      };
    } finally {
      await orm.close(true);
      await db.drop();
      await redis.remove();
    }
  },
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = process.argv.indexOf('--jobs');
  const jobs = arg >= 0 ? Number(process.argv[arg + 1]) : 20_000;
  if (!Number.isInteger(jobs) || jobs < 1) {
    console.error('--jobs must be a positive whole number');
    process.exit(2);
  }
  const outDir = path.join(REPO_ROOT, '.local', 'bench');
  mkdirSync(outDir, { recursive: true });
  const sections = [
    { section: jobsSection, run: () => jobsSection.run(jobs) },
    { section: notificationsSection, run: () => notificationsSection.run() },
  ];
  for (const { section, run } of sections) {
    console.log(`\n## ${section.name}\n\n${section.description}\n`);
    const { table, data } = await run();
    console.log(table);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const file = path.join(outDir, `${section.name}-${stamp}.json`);
    writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
    console.log(`\n(figures: ${path.relative(REPO_ROOT, file)})`);
  }
  process.exit(0);
}
