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
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../../service/src/config.js';
import { createQueue } from '../../service/src/jobs/queue.js';
import { COMMENT_EMAIL, EMAIL_QUEUE } from '../../service/src/jobs/contracts.js';
import { createLogger } from '../../service/src/logger.js';
import { REPO_ROOT } from '../../service/test/support/paths.js';
import { startSmtpServer, type TestSmtpServer } from '../../service/test/support/smtp.js';
import { createCertificates } from '../../service/test/support/stores.js';
import { LocalStack, type LocalStackOptions } from '../stack/local-stack.js';
import {
  commentWrites,
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

/** The mail domain of the drill's SMTP_FROM: the right-hand side of every Message-ID. */
const MAIL_FROM = 'Plinth drill <no-reply@drill.plinth.test>';
const MAIL_DOMAIN = 'drill.plinth.test';

/**
 * Kills the worker (SIGKILL) while it sends comment emails, with reads and comment writes running
 * through HAProxy; starts a new worker. The jobs are real: every acknowledged comment committed a
 * `comment-email` outbox row, which the worker's relay moves to Bull and the email processor sends
 * to `smtp` (a real SMTP server, slowed so that jobs are in flight at the kill). Their declared
 * semantics are at-least-once with a stable Message-ID: every comment's mail must arrive (none
 * lost), and a second copy is allowed only for a job that was active at the kill. No request may
 * fail.
 */
export function workerKill(smtp: TestSmtpServer): Drill<LocalStack> {
  return {
    name: 'worker SIGKILL under load',
    async run(stack) {
      const config = loadConfig({ ...process.env, ...stack.state.env });
      const queue = createQueue(EMAIL_QUEUE, config, createLogger({ level: 'silent' }));
      const commenter = await registerUser(stack, 'commenter');
      const slugs = await someArticles(stack, 5);
      const readers = new Traffic(stack, await readMix(stack));
      const writer = new Writer(stack, 'kill', {
        kind: commentWrites(slugs),
        token: commenter,
        pauseMs: 100,
      });
      const workerLog = stack.worker!.log;
      const recoveredBefore = countIn(await readFile(workerLog, 'utf8'), 'stalled job recovered');
      smtp.slow(400);
      readers.start(2);
      writer.start(2);
      try {
        // Mail is flowing and the worker holds jobs: kill it there.
        const deadline = Date.now() + 60_000;
        while (
          (smtp.received.length === 0 || (await queue.getActiveCount()) === 0) &&
          Date.now() < deadline
        )
          await sleep(50);
        const active = await queue.getActiveCount();
        await stack.killWorker();
        const killed = Date.now();
        // Comments keep coming while no worker runs: their outbox rows wait for the next relay.
        await sleep(3000);
        await stack.startWorker();
        await sleep(3000);
        await writer.stop();
        const reads = await readers.stop();
        smtp.slow(0);

        const wanted = new Set(writer.acked.map((id) => `<comment-${id}@${MAIL_DOMAIN}>`));
        const copies = () => {
          const byId = new Map<string, number>();
          for (const mail of smtp.received) {
            const id = mail.header('message-id') ?? '';
            if (wanted.has(id)) byId.set(id, (byId.get(id) ?? 0) + 1);
          }
          return byId;
        };
        while (copies().size < wanted.size && Date.now() - killed < 150_000) await sleep(250);
        const delivered = copies();
        const recoveredS = ((Date.now() - killed) / 1000).toFixed(1);
        const duplicates = [...delivered.values()].reduce((a, n) => a + n - 1, 0);
        const lost = wanted.size - delivered.size;
        if (writer.acked.length === 0)
          throw new Error(`no comment acknowledged: ${JSON.stringify(writer.refused)}`);
        const [outbox] = await stack.orm.em
          .fork()
          .getConnection()
          .execute<{ rows: number; unsent: number }[]>(
            `select count(*)::int as rows, count(*) filter (where sent_at is null)::int as unsent
               from outbox where name = ? and (payload->>'commentId')::int in (?)`,
            [COMMENT_EMAIL.name, writer.acked.map(Number)],
          );
        const deadLetters = await queue.getFailedCount();
        const recovered =
          countIn(await readFile(workerLog, 'utf8'), 'stalled job recovered') - recoveredBefore;
        const present = await writer.present();
        const writesFailed = writer.attempts - writer.acked.length;

        const failures: string[] = [];
        if (lost > 0) failures.push(`${lost} jobs lost (no mail in 150 s)`);
        // Jobs active at the kill: sampled just before it, and counted again by the new worker
        // as the stalled jobs it recovered (one more may have started in between).
        const activeAtKill = Math.max(active, recovered);
        if (duplicates > activeAtKill)
          failures.push(
            `${duplicates} second copies, more than the ${activeAtKill} jobs active at the kill`,
          );
        if (outbox!.rows !== writer.acked.length)
          failures.push(`${outbox!.rows} outbox rows for ${writer.acked.length} comments`);
        if (outbox!.unsent > 0) failures.push(`${outbox!.unsent} outbox rows never relayed`);
        if (deadLetters > 0) failures.push(`${deadLetters} email jobs failed`);
        if (failedOf(reads) > 0)
          failures.push(`${failedOf(reads)} failed reads ${statuses(reads)}`);
        if (writesFailed > 0)
          failures.push(`${writesFailed} failed comments ${JSON.stringify(writer.refused)}`);
        if (present !== writer.acked.length) failures.push('acknowledged comments missing');
        return {
          drill: this.name,
          requests: { total: reads.total + writer.attempts, ok: reads.ok + writer.acked.length },
          writes: { acked: writer.acked.length, present },
          notes: [
            `${writer.acked.length} comments → ${outbox!.rows} comment-email jobs (outbox), ${delivered.size} delivered, ${lost} lost, ${duplicates} second copies (same Message-ID; at-least-once allows them for the ${Math.max(active, recovered)} jobs active at the kill)`,
            `${recovered} stalled jobs recovered by the new worker; all mail in ${recoveredS} s after the kill; ${deadLetters} dead letters`,
          ],
          failures,
        };
      } finally {
        smtp.slow(0);
        await writer.stop();
        await readers.stop();
        await queue.close();
      }
    },
  };
}

function countIn(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** Registers a user through the load balancer; returns their token. */
async function registerUser(stack: LocalStack, prefix: string): Promise<string> {
  const name = `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const res = await stack.fetch('/api/users', {
    method: 'POST',
    body: JSON.stringify({
      user: { username: name, email: `${name}@example.com`, password: 'drill-password-1' },
    }),
  });
  if (res.status !== 201) throw new Error(`registering ${name} answered ${res.status}`);
  return ((await res.json()) as { user: { token: string } }).user.token;
}

/** Slugs of the first `limit` articles (by others than a new user: each comment mails its author). */
async function someArticles(stack: LocalStack, limit: number): Promise<string[]> {
  const rows = await stack.orm.em
    .fork()
    .getConnection()
    .execute<{ slug: string }[]>('select slug from articles order by id limit ?', [limit]);
  if (rows.length === 0) throw new Error('no articles to comment on');
  return rows.map((r) => r.slug);
}

/** `plinth_db_reads_total` summed by role over every API process (Prometheus text). */
async function readsByRole(stack: LocalStack): Promise<{ primary: number; replica: number }> {
  const sums = { primary: 0, replica: 0 };
  for (const text of await stack.apiMetrics()) {
    for (const m of text.matchAll(/^plinth_db_reads_total\{([^}]*)\} (\S+)$/gm)) {
      const role = /role="(\w+)"/.exec(m[1]!)?.[1];
      if (role === 'primary' || role === 'replica') sums[role] += Number(m[2]);
    }
  }
  return sums;
}

const delta = (a: { primary: number; replica: number }, b: { primary: number; replica: number }) =>
  `${b.replica - a.replica} on the replica, ${b.primary - a.primary} on the primary`;

/**
 * Stops the streaming replica while reads run through HAProxy at a fixed rate: no read may fail.
 * Where the reads ran comes from the APIs' own metrics (`plinth_db_reads_total` by role): on the
 * replica before the stop, on the primary while it is down, on the replica again once it is back.
 */
export const replicaStop: Drill<LocalStack> = {
  name: 'replica stopped',
  async run(stack) {
    const mix = await readMix(stack);
    const failures: string[] = [];
    const m0 = await readsByRole(stack);
    const normal = await load(stack.url, mix, { durationMs: 3000, ratePerSecond: READ_RATE });
    const m1 = await readsByRole(stack);
    if (m1.replica === m0.replica) failures.push('no read ran on the replica before the stop');
    const replicaPort = new URL(stack.state.env.DATABASE_REPLICA_URLS!).port;
    const primaryDir = stack.storeDir('primary');
    const during = load(stack.url, mix, { durationMs: 8000, ratePerSecond: READ_RATE });
    await sleep(1000);
    await stack.store('replica', 'stop');
    const stoppedAt = Date.now();
    // The router skips a replica that failed a read or a health check (every second).
    await sleep(2000);
    const m2 = await readsByRole(stack);
    const result = await during;
    const m3 = await readsByRole(stack);
    if (m3.replica !== m2.replica) failures.push('reads ran on the stopped replica');
    if (m3.primary === m2.primary) failures.push('no read ran on the primary while it was down');
    const downS = ((Date.now() - stoppedAt) / 1000).toFixed(1);
    await stack.store('replica', 'start', replicaPort, primaryDir);
    // Back in rotation at a health check that finds it caught up.
    const after: LoadResult[] = [];
    let m4 = m3;
    const restarted = Date.now();
    while (m4.replica === m3.replica && Date.now() - restarted < 30_000) {
      after.push(await load(stack.url, mix, { durationMs: 2000, ratePerSecond: READ_RATE }));
      m4 = await readsByRole(stack);
    }
    const backS = ((Date.now() - restarted) / 1000).toFixed(1);
    if (m4.replica === m3.replica) failures.push('reads did not come back to the replica in 30 s');
    const afterTotal = after.reduce((a, r) => a + r.total, 0);
    const afterOk = after.reduce((a, r) => a + r.ok, 0);
    if (failedOf(normal) > 0) failures.push(`${failedOf(normal)} failed reads before the stop`);
    if (failedOf(result) > 0) failures.push(`${failedOf(result)} failed reads ${statuses(result)}`);
    if (afterOk !== afterTotal) failures.push(`${afterTotal - afterOk} failed reads after restart`);
    return {
      drill: this.name,
      requests: { total: result.total + afterTotal, ok: result.ok + afterOk },
      p99Ms: { before: normal.p99Ms, during: result.p99Ms },
      notes: [
        `database reads (plinth_db_reads_total): before ${delta(m0, m1)}; replica down ${delta(m2, m3)}; after restart ${delta(m3, m4)}`,
        `stopped for ${downS} s under reads at ${READ_RATE}/s; back in rotation within ${backS} s of its restart`,
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

/** Every drill of the topology, in the order they run; `smtp` receives the worker's mail. */
export function stackDrills(smtp: TestSmtpServer): Drill<LocalStack>[] {
  return [rollingRestart, replicaStop, redisStop, workerKill(smtp)];
}

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
  // The worker's mail goes to a real SMTP server in this process, over STARTTLS as production
  // requires, with a certificate its CA (trusted through NODE_EXTRA_CA_CERTS) signed.
  const certs = await createCertificates(path.join(REPO_ROOT, '.local/drill-certs'));
  const smtp = await startSmtpServer({ tls: certs });
  const options: LocalStackOptions = {
    dir: path.join(REPO_ROOT, '.local/drill-stack'),
    apis: Number(values.apis),
    env: {
      ...DRILL_ENV,
      SHUTDOWN_DRAIN_DELAY_MS: '3000',
      SHUTDOWN_TIMEOUT_MS: '20000',
      ...smtp.env,
      SMTP_FROM: MAIL_FROM,
      NODE_EXTRA_CA_CERTS: certs.caFile,
      // The provider's rate limit is not what this drill measures.
      EMAIL_RATE_PER_SECOND: '1000',
    },
    progress: (line) => console.log(`stack: ${line}`),
  };
  let results: DrillResult[] = [];
  try {
    const stack = await LocalStack.start(options);
    console.log(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s (${stack.url})`);
    // Interrupted, it still stops what it started (its processes would outlive it otherwise).
    const interrupted = (signal: NodeJS.Signals) => {
      console.log(`\n${signal}: stopping the drill stack…`);
      void stack.stop().finally(() => process.exit(130));
    };
    process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
    try {
      // Warm up (JIT, pools) so the first "normal" figures are the processes' normal.
      await load(stack.url, await readMix(stack), { durationMs: 3000, ratePerSecond: READ_RATE });
      results = await runDrills(stack, stackDrills(smtp).filter(pick));
    } finally {
      await stack.stop();
    }
  } finally {
    await smtp.close();
  }
  console.log(`\n${table(results)}\n`);
  console.log(`drills took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (results.some((r) => r.failures.length > 0)) process.exitCode = 1;
}

// Run as a script; imported (the rolling-restart test), it only provides the drills.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  await main();
