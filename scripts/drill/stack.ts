/**
 * `npm run drill:stack [-- <drill> ...] [--apis N]`: drills of the local topology
 * (scripts/stack/local-stack.ts: HAProxy, N API processes, the worker, a PostgreSQL primary with
 * a streaming replica, Redis) under load, with the fault drills' harness (load, Traffic, Writer,
 * table). Runs on a topology of its own in .local/drill-stack (never the one stack:local keeps
 * running). Exits 1 when a drill misses its target. See docs/operations.md.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../service/src/config.js';
import { connectOrm } from '../../service/src/db/orm.js';
import { createQueue } from '../../service/src/jobs/queue.js';
import { MAINTENANCE_QUEUE, PRUNE_UNUSED_TAGS } from '../../service/src/jobs/contracts.js';
import { createLogger } from '../../service/src/logger.js';
import { holdTableLock } from '../../service/test/support/locks.js';
import { REPO_ROOT } from '../../service/test/support/paths.js';
import { LocalStack, type LocalStackOptions } from '../stack/local-stack.js';
import {
  load,
  readMix,
  table,
  Traffic,
  Writer,
  type Drill,
  type DrillResult,
  type LoadResult,
} from './harness.js';

/** Reads at a fixed rate where p99 is compared. */
const READ_RATE = 40;

const failedOf = (r: LoadResult) => r.total - r.ok;
const statuses = (r: LoadResult) => JSON.stringify(r.byStatus);

/**
 * Restarts every API process in turn (SIGTERM, wait for its exit, start a new one on the same
 * port, wait until HAProxy has it UP) while reads and writes run through HAProxy: no request may
 * fail, every acknowledged write must be a row, every process must exit 0.
 */
export const rollingRestart: Drill<LocalStack> = {
  name: 'rolling restart',
  async run(stack) {
    const readers = new Traffic(stack, await readMix(stack));
    const writer = new Writer(stack, 'rolling');
    readers.start(3);
    writer.start(2);
    const before = await stack.serverStats();
    const exits: string[] = [];
    const failures: string[] = [];
    try {
      await sleep(1000);
      for (let i = 0; i < stack.apis.length; i += 1) {
        const exit = await stack.restartApi(i);
        exits.push(`${stack.apis[i]!.name} exit ${exit.code} in ${exit.exitMs} ms`);
        if (exit.code !== 0) failures.push(`${stack.apis[i]!.name} exited ${exit.code}`);
        await sleep(1000);
      }
    } finally {
      await writer.stop();
    }
    const reads = await readers.stop();
    const after = await stack.serverStats();
    const present = await writer.present();
    const writesFailed = writer.attempts - writer.acked.length;
    if (failedOf(reads) > 0) failures.push(`${failedOf(reads)} failed reads ${statuses(reads)}`);
    if (writesFailed > 0)
      failures.push(`${writesFailed} failed writes ${JSON.stringify(writer.refused)}`);
    if (present !== writer.acked.length) failures.push('acknowledged writes missing');
    const spread = after.map((s, i) => `${s.name} ${s.total - (before[i]?.total ?? 0)}`).join(', ');
    return {
      drill: `${this.name} (${stack.apis.length} APIs)`,
      requests: { total: reads.total + writer.attempts, ok: reads.ok + writer.acked.length },
      writes: { acked: writer.acked.length, present },
      notes: [...exits, `requests per process ${spread}`, `read p99 ${reads.p99Ms} ms`],
      failures,
    };
  },
};

/**
 * Kills the worker (SIGKILL) while it holds active jobs and more wait, with reads running through
 * HAProxy; starts a new worker: every job enqueued must complete (the killed worker's active jobs
 * come back once their Bull locks expire), and no read may fail.
 */
export const workerKill: Drill<LocalStack> = {
  name: 'worker SIGKILL under load',
  async run(stack) {
    const jobsCount = 20;
    const config = loadConfig({ ...process.env, ...stack.state.env });
    const queue = createQueue(MAINTENANCE_QUEUE, config, createLogger({ level: 'silent' }));
    const readers = new Traffic(stack, await readMix(stack));
    readers.start(2);
    const lock = await holdTableLock(stack.orm, 'lock table tags in share mode');
    let released = false;
    try {
      const jobs = await Promise.all(
        Array.from({ length: jobsCount }, () => queue.add(PRUNE_UNUSED_TAGS.name, {})),
      );
      // The worker's concurrency (4) jobs hang on the lock; the rest wait their turn.
      while ((await queue.getActiveCount()) < config.WORKER_CONCURRENCY) await sleep(50);
      const active = await queue.getActiveCount();
      await stack.killWorker();
      const killed = Date.now();
      await lock.release();
      released = true;
      await stack.startWorker();
      let done = 0;
      while (Date.now() - killed < 150_000) {
        const states = await Promise.all(jobs.map((j) => j.getState()));
        done = states.filter((s) => s === 'completed').length;
        if (done === jobsCount) break;
        await sleep(250);
      }
      const recoveredS = ((Date.now() - killed) / 1000).toFixed(1);
      const reads = await readers.stop();
      const failures: string[] = [];
      if (done !== jobsCount)
        failures.push(`${jobsCount - done} jobs lost (not completed in 150 s)`);
      if (failedOf(reads) > 0) failures.push(`${failedOf(reads)} failed reads ${statuses(reads)}`);
      return {
        drill: this.name,
        requests: { total: reads.total, ok: reads.ok },
        notes: [
          `${jobsCount} jobs, ${active} active at the kill; ${done}/${jobsCount} completed, the last ${recoveredS} s after the kill (Bull's 30 s lock + stall checks)`,
          `jobs lost: ${jobsCount - done}`,
        ],
        failures,
      };
    } finally {
      if (!released) await lock.release();
      await readers.stop();
      await queue.close();
    }
  },
};

/** Committed transactions on the replica's `plinth` database (did it serve anything?). */
async function replicaTransactions(stack: LocalStack): Promise<number> {
  const url = stack.state.env.DATABASE_REPLICA_URLS;
  if (!url) return 0;
  const orm = await connectOrm({
    DATABASE_URL: url,
    DATABASE_SSL: 'disable',
    DATABASE_POOL_MAX: 1,
  });
  try {
    const rows = await orm.em
      .fork()
      .getConnection()
      .execute<{ n: string }[]>(
        "select xact_commit::text as n from pg_stat_database where datname = 'plinth'",
      );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await orm.close(true);
  }
}

/**
 * Stops the streaming replica while reads run through HAProxy at a fixed rate: no read may fail.
 * Counts the replica's transactions over the normal phase to say whether reads were on it.
 */
export const replicaStop: Drill<LocalStack> = {
  name: 'replica stopped',
  async run(stack) {
    const mix = await readMix(stack);
    // Each measurement is a connection of its own (a few transactions): measure that overhead,
    // and give idle backends time to flush their statistics (PostgreSQL does so within ~1 s).
    const tx0 = await replicaTransactions(stack);
    const tx1 = await replicaTransactions(stack);
    const normal = await load(stack.url, mix, { durationMs: 3000, ratePerSecond: READ_RATE });
    await sleep(1500);
    const onReplica = Math.max(0, (await replicaTransactions(stack)) - tx1 - (tx1 - tx0));
    const replicaPort = new URL(stack.state.env.DATABASE_REPLICA_URLS!).port;
    const primaryDir = stack.storeDir('primary');
    const during = load(stack.url, mix, { durationMs: 8000, ratePerSecond: READ_RATE });
    await sleep(1000);
    await stack.store('replica', 'stop');
    const stoppedAt = Date.now();
    const result = await during;
    await stack.store('replica', 'start', replicaPort, primaryDir);
    const failures: string[] = [];
    if (failedOf(normal) > 0) failures.push(`${failedOf(normal)} failed reads before the stop`);
    if (failedOf(result) > 0) failures.push(`${failedOf(result)} failed reads ${statuses(result)}`);
    return {
      drill: this.name,
      requests: { total: result.total, ok: result.ok },
      p99Ms: { before: normal.p99Ms, during: result.p99Ms },
      notes: [
        `replica committed ${onReplica} transactions during ${normal.total} normal reads (${onReplica > 0 ? 'reads routed to it' : 'no read routing to replicas yet: reads on the primary'})`,
        `stopped for ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s under reads, then restarted`,
      ],
      failures,
    };
  },
};

/** Stops Redis (clean stop: connections refused) while reads run through HAProxy. */
export const redisStop: Drill<LocalStack> = {
  name: 'Redis stopped',
  async run(stack) {
    const mix = await readMix(stack);
    const normal = await load(stack.url, mix, { durationMs: 3000, ratePerSecond: READ_RATE });
    const redisPort = new URL(stack.state.env.REDIS_URL!).port;
    const during = load(stack.url, mix, { durationMs: 8000, ratePerSecond: READ_RATE });
    await sleep(1000);
    await stack.store('redis', 'stop');
    const result = await during;
    await stack.store('redis', 'start', redisPort);
    // Let the API's circuit close and the worker reconnect before whatever runs next.
    await sleep(3000);
    const failures: string[] = [];
    if (failedOf(result) > 0) failures.push(`${failedOf(result)} failed reads ${statuses(result)}`);
    return {
      drill: this.name,
      requests: { total: result.total, ok: result.ok },
      p99Ms: { before: normal.p99Ms, during: result.p99Ms },
      notes: [
        `Redis down for the last 7 s of 8 s of reads at ${READ_RATE}/s, then restarted (empty)`,
      ],
      failures,
    };
  },
};

export const STACK_DRILLS: Drill<LocalStack>[] = [
  rollingRestart,
  replicaStop,
  redisStop,
  workerKill,
];

/** The environment drills run the topology with: limits that never throttle the drill's load. */
export const DRILL_ENV: Record<string, string> = {
  RATE_LIMIT_PER_MINUTE: '10000000',
  RATE_LIMIT_AUTH_PER_MINUTE: '1000000',
  RATE_LIMIT_LOGIN_PER_ACCOUNT: '1000000',
};

/** Runs `drills` in order on `stack`; a drill that throws is a missed target. */
export async function runDrills(
  stack: LocalStack,
  drills: Drill<LocalStack>[],
  progress: (line: string) => void = (l) => process.stdout.write(l),
): Promise<DrillResult[]> {
  const results: DrillResult[] = [];
  for (const drill of drills) {
    const t0 = Date.now();
    progress(`${drill.name}… `);
    results.push(
      await drill.run(stack).catch((err: Error): DrillResult => ({
        drill: drill.name,
        notes: [],
        failures: [err.message],
      })),
    );
    progress(`${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  return results;
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { apis: { type: 'string', default: '2' } },
  });
  const pick = (d: Drill<LocalStack>) =>
    positionals.length === 0 ||
    positionals.some((o) => d.name.toLowerCase().includes(o.toLowerCase()));
  const started = Date.now();
  const options: LocalStackOptions = {
    dir: path.join(REPO_ROOT, '.local/drill-stack'),
    apis: Number(values.apis),
    env: { ...DRILL_ENV, SHUTDOWN_DRAIN_DELAY_MS: '3000', SHUTDOWN_TIMEOUT_MS: '20000' },
    progress: (line) => console.log(`stack: ${line}`),
  };
  const stack = await LocalStack.start(options);
  console.log(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s (${stack.url})`);
  let results: DrillResult[] = [];
  try {
    // Warm up (JIT, pools) so the first "normal" figures are the processes' normal.
    await load(stack.url, await readMix(stack), { durationMs: 3000, ratePerSecond: READ_RATE });
    results = await runDrills(stack, STACK_DRILLS.filter(pick));
  } finally {
    await stack.stop();
  }
  console.log(`\n${table(results)}\n`);
  console.log(`drills took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (results.some((r) => r.failures.length > 0)) process.exitCode = 1;
}

// Run as a script; imported (the rolling-restart test), it only provides the drills.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  await main();
