/**
 * `npm run drill:faults [-- <drill> ...]`: the fault drills of issue 7 against the production
 * build (run `npm run build` first; the npm script does). Every drill runs on PostgreSQL and Redis
 * of its own (never the shared servers) and ends in one table: success rates, p99, RSS, and
 * acknowledged writes against rows. Exits 1 when a drill misses a target. See docs/operations.md.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, SHUTDOWN_EXIT_MARGIN_MS } from '../../service/src/config.js';
import { ensureDatabase } from '../../service/src/db/admin.js';
import { connectOrm } from '../../service/src/db/orm.js';
import { createQueue } from '../../service/src/jobs/queue.js';
import { MAINTENANCE_QUEUE, PRUNE_UNUSED_TAGS, QUEUES } from '../../service/src/jobs/contracts.js';
import { createLogger } from '../../service/src/logger.js';
import { holdTableLock } from '../../service/test/support/locks.js';
import { startPrivateStore } from '../../service/test/support/stores.js';
import {
  load,
  readMix,
  runToEnd,
  Stack,
  startApp,
  table,
  Traffic,
  Writer,
  type Drill,
  type DrillResult,
  type LoadRequest,
} from './harness.js';

/** Reads at a fixed rate, so p99 compares like with like. */
const READ_RATE = 150;
const DRAIN_DELAY_MS = 3000;
const SHUTDOWN_TIMEOUT_MS = 20_000;

const reads = async (stack: Stack, durationMs: number) =>
  load(stack.apiUrl, await readMix(stack), {
    durationMs,
    connections: 16,
    ratePerSecond: READ_RATE,
  });

/** Reads while Redis is unavailable: none may fail, p99 within 2× of normal. */
function redisDrill(
  name: string,
  fault: (stack: Stack) => Promise<void>,
  restore: (stack: Stack) => Promise<void>,
): Drill {
  return {
    name,
    async run(stack) {
      const normal = await reads(stack, 3000);
      const opened = stack.api.count('Redis unavailable: commands fail fast');
      await fault(stack);
      let detect;
      let during;
      try {
        // The first second holds the requests that wait for the circuit to open (those that
        // arrive within one command timeout); then the steady state of the outage.
        detect = await reads(stack, 1000);
        during = await reads(stack, 6000);
      } finally {
        await restore(stack);
        // Let the circuit close (on the reconnection or the next trial) before the next drill.
        await sleep(2500);
      }
      const total = detect.total + during.total;
      const ok = detect.ok + during.ok;
      const failures: string[] = [];
      if (ok !== total) {
        failures.push(
          `${total - ok} failed reads (${JSON.stringify(detect.byStatus)} ${JSON.stringify(during.byStatus)})`,
        );
      }
      if (during.p99Ms > 2 * normal.p99Ms) failures.push('p99 above 2× normal');
      return {
        drill: name,
        requests: { total, ok },
        p99Ms: { before: normal.p99Ms, during: during.p99Ms },
        notes: [
          `p99 ${detect.p99Ms} ms in the first second (circuit opening), steady state after`,
          `circuit opened ${stack.api.count('Redis unavailable: commands fail fast') - opened}×`,
        ],
        failures,
      };
    },
  };
}

/** Reads and writes while PostgreSQL is down for `outageMs`: 503s, no 500s, no lost writes. */
function postgresDrill(
  name: string,
  fault: (stack: Stack) => Promise<void>,
  restore: (stack: Stack) => Promise<void>,
): Drill {
  return {
    name,
    async run(stack) {
      const logsBefore = stack.api.logs.length;
      const writer = new Writer(stack, name);
      writer.start();
      const traffic = reads(stack, 6000);
      await sleep(1000);
      await fault(stack);
      await sleep(3000);
      await restore(stack);
      const restored = Date.now();
      // First 2xx after the database is back, on a fresh request every 10 ms.
      let recoveredMs = -1;
      while (recoveredMs < 0 && Date.now() - restored < 20_000) {
        const res = await stack.fetch('/api/tags').catch(() => undefined);
        if (res?.status === 200) recoveredMs = Date.now() - restored;
        else await sleep(10);
      }
      const during = await traffic;
      await writer.stop();
      const present = await writer.present();
      const logs = stack.api.logs.slice(logsBefore);
      const stacks = logs.filter((l) => JSON.stringify(l).includes('"stack"')).length;
      const failures: string[] = [];
      const serverErrors = Object.entries(during.byStatus)
        .filter(([s]) => s.startsWith('5') && s !== '503')
        .reduce((a, [, n]) => a + n, 0);
      if (serverErrors > 0) failures.push(`${serverErrors} 5xx other than 503`);
      if (present !== writer.acked.length) failures.push('acknowledged writes missing');
      if (recoveredMs < 0) failures.push('no 2xx within 20 s of the database returning');
      return {
        drill: name,
        requests: { total: during.total, ok: during.ok },
        writes: { acked: writer.acked.length, present },
        notes: [
          `statuses ${JSON.stringify(during.byStatus)}`,
          `first 2xx ${recoveredMs} ms after it returned`,
          `${logs.filter((l) => String(l.msg).startsWith('database unavailable')).length} outage line(s), ${stacks} stack trace(s), ${logs.length} log lines for ${during.total + writer.attempts} requests`,
        ],
        failures,
      };
    },
  };
}

/** Request bodies and headers no client should send; every one must be a 4xx. */
function malformedRequests(token: string): LoadRequest[] {
  const json = { 'Content-Type': 'application/json' };
  const authJson = { ...json, Authorization: `Token ${token}` };
  const deep = `{"article":{"title":"t","description":"d","body":"b","tagList":${'['.repeat(100_000)}"x"${']'.repeat(100_000)}}}`;
  const wide = `{"article":{"title":"t","description":"d","body":"b","tagList":${JSON.stringify(Array.from({ length: 20_000 }, (_, i) => `t${i}`))}}}`;
  return [
    { method: 'POST', path: '/api/articles', headers: json, body: deep },
    { method: 'POST', path: '/api/articles', headers: authJson, body: deep },
    {
      method: 'POST',
      path: '/api/users/login',
      headers: json,
      body: `${'{"user":'.repeat(5_000)}1${'}'.repeat(5_000)}`,
    },
    { method: 'POST', path: '/api/articles', headers: authJson, body: wide },
    { method: 'POST', path: '/api/users', headers: json, body: '{"user": {"email": ' },
    {
      method: 'POST',
      path: '/api/users/login',
      headers: { 'Content-Type': 'application/json; charset=utf-16' },
      body: Buffer.from('{"user":{"email":"a@b.c","password":"x"}}', 'utf16le'),
    },
    {
      method: 'POST',
      path: '/api/articles',
      headers: authJson,
      body: JSON.stringify({ article: { title: 'a\u0000b', description: 'd', body: 'b' } }),
    },
    {
      method: 'POST',
      path: '/api/users',
      headers: json,
      body: `{"user":{"username":"${'x'.repeat(1_100_000)}"}}`,
    },
    { path: '/api/user', headers: { Authorization: 'Token eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.' } },
    { path: '/api/articles?limit=abc&offset=-1&tag=a&tag=b' },
    { method: 'PATCH', path: '/api/tags' },
    { method: 'POST', path: '/api/users', headers: { 'Content-Type': 'text/plain' }, body: 'x' },
    {
      method: 'PUT',
      path: '/api/user',
      headers: authJson,
      body: Buffer.concat([
        Buffer.from('{"user":{"bio":"'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}}'),
      ]),
    },
    {
      method: 'POST',
      path: '/api/users',
      headers: json,
      body: '{"user":{"__proto__":{"admin":true},"email":"p@x.io","username":"p","password":"12345678"}}',
    },
  ];
}

const malformed: Drill = {
  name: '2,000 malformed requests',
  async run(stack) {
    await sleep(1000);
    const before = stack.api.rssMb();
    const result = await load(stack.apiUrl, malformedRequests(stack.token), {
      amount: 2000,
      connections: 16,
    });
    await sleep(3000);
    const after = stack.api.rssMb();
    // A second flood tells a high-water mark (flat) from a leak (growing again).
    await load(stack.apiUrl, malformedRequests(stack.token), { amount: 2000, connections: 16 });
    await sleep(3000);
    const again = stack.api.rssMb();
    const serverErrors = Object.entries(result.byStatus)
      .filter(([s]) => s.startsWith('5') || s === 'error')
      .reduce((a, [, n]) => a + n, 0);
    const failures: string[] = [];
    if (serverErrors > 0) failures.push(`${serverErrors} 5xx or errors`);
    if (after > 1.5 * before) failures.push('RSS after above 1.5× before');
    return {
      drill: this.name,
      // Success here is "answered with a 4xx": the right answer to malformed input.
      requests: {
        total: result.total,
        ok: Object.entries(result.byStatus)
          .filter(([s]) => s.startsWith('4'))
          .reduce((a, [, n]) => a + n, 0),
      },
      rssMb: { before, after },
      notes: [
        `statuses ${JSON.stringify(result.byStatus)} (success = 4xx)`,
        `RSS ${again} MB after a second flood`,
      ],
      failures,
    };
  },
};

const slowClients: Drill = {
  name: 'slow clients',
  async run(stack) {
    const normal = await reads(stack, 3000);
    const port = Number(new URL(stack.apiUrl).port);
    const sockets: Socket[] = [];
    const open = (first: string, drip: () => string) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(first));
      socket.on('error', () => undefined);
      const timer = setInterval(() => socket.writable && socket.write(drip()), 1000);
      socket.on('close', () => clearInterval(timer));
      sockets.push(socket);
    };
    // Headers that never end (slowloris) and bodies that trickle in.
    for (let i = 0; i < 200; i += 1) {
      open('GET /api/tags HTTP/1.1\r\nHost: drill\r\n', () => `X-Slow-${i}: 1\r\n`);
    }
    for (let i = 0; i < 50; i += 1) {
      open(
        'POST /api/users/login HTTP/1.1\r\nHost: drill\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{',
        () => ' ',
      );
    }
    await sleep(500);
    const during = await reads(stack, 6000);
    const stillOpen = sockets.filter((s) => !s.destroyed).length;
    for (const socket of sockets) socket.destroy();
    const failures: string[] = [];
    if (during.ok !== during.total) failures.push(`${during.total - during.ok} failed reads`);
    if (during.p99Ms > 2 * normal.p99Ms) failures.push('p99 above 2× normal');
    return {
      drill: this.name,
      requests: { total: during.total, ok: during.ok },
      p99Ms: { before: normal.p99Ms, during: during.p99Ms },
      notes: [
        `200 slow-header + 50 slow-body connections; ${stillOpen} still held after 6.5 s (headersTimeout 66 s; a proxy bounds them, docs/security.md)`,
      ],
      failures,
    };
  },
};

const sigterm: Drill = {
  name: 'SIGTERM under mixed load',
  async run(stack) {
    const writer = new Writer(stack, 'sigterm');
    const readers = new Traffic(stack, await readMix(stack));
    writer.start();
    readers.start();
    await sleep(1000);
    const signalled = Date.now();
    stack.api.child.kill('SIGTERM');
    await sleep(100);
    const ready = await fetch(`${stack.apiUrl}/health/ready`).then(
      (r) => r.status,
      () => 0,
    );
    // Traffic the load balancer routed before it deregistered the task: it stops before the
    // drain delay ends (after it, the listener is closed and a load balancer sends nothing).
    await sleep(DRAIN_DELAY_MS - 600);
    const [during] = await Promise.all([readers.stop(), writer.stop()]);
    const exit = await stack.api.exited;
    const exitMs = exit.at - signalled;
    const abandoned = stack.api.logs.find((l) => String(l.msg).startsWith('shutdown timeout'));
    const present = await writer.present();
    const boundMs = DRAIN_DELAY_MS + SHUTDOWN_TIMEOUT_MS + SHUTDOWN_EXIT_MARGIN_MS;
    const failures: string[] = [];
    const writesFailed = writer.attempts - writer.acked.length;
    if (ready !== 503) failures.push(`readiness on a new connection answered ${ready}`);
    if (during.ok !== during.total) failures.push(`${during.total - during.ok} failed reads`);
    if (writesFailed > 0) failures.push(`${writesFailed} failed writes`);
    if (present !== writer.acked.length) failures.push('acknowledged writes missing');
    if (exit.code !== 0) failures.push(`exit code ${exit.code}`);
    if (exitMs > boundMs) failures.push('exit after the bound');
    return {
      drill: this.name,
      requests: { total: during.total + writer.attempts, ok: during.ok + writer.acked.length },
      writes: { acked: writer.acked.length, present },
      notes: [
        `reads ${JSON.stringify(during.byStatus)}, writes refused ${JSON.stringify(writer.refused)}`,
        `readiness ${ready} on a new connection 100 ms after SIGTERM`,
        `exit ${exit.code} after ${exitMs} ms (bound ${boundMs} ms)`,
        ...(abandoned ? [`abandoned ${JSON.stringify(abandoned.oldest)}`] : []),
      ],
      failures,
    };
  },
};

/**
 * Its own PostgreSQL and Redis: kills a worker while it holds active jobs (held on a table lock;
 * as many as the maintenance queue runs at once) and more wait, starts another, and waits until
 * every job completed and each active one was recovered (its lock expired) and logged.
 */
const JOBS_ENQUEUED = 4;

const workerKill: Drill = {
  name: 'worker SIGKILL with active jobs',
  async run(stack) {
    const [pg, redis] = await Promise.all([
      startPrivateStore('postgres'),
      startPrivateStore('redis'),
    ]);
    const env = {
      ...stack.env,
      DATABASE_URL: pg.url.replace(/\/postgres$/, '/plinth_worker_drill'),
      REDIS_URL: redis.url,
      WORKER_CONCURRENCY: '4',
    };
    await ensureDatabase(env.DATABASE_URL);
    await runToEnd('dist/service/src/db/migrate.js', env);
    const config = loadConfig(env);
    const orm = await connectOrm(config);
    const queue = createQueue(MAINTENANCE_QUEUE, config, createLogger({ level: 'silent' }));
    try {
      const lock = await holdTableLock(orm, 'lock table tags in share mode');
      const first = await startApp('worker', 'dist/worker/src/main.js', env, 'worker ready');
      const jobs = await Promise.all(
        Array.from({ length: JOBS_ENQUEUED }, () => queue.add(PRUNE_UNUSED_TAGS.name, {})),
      );
      // The queue's own concurrency (1: bulk statements), not WORKER_CONCURRENCY: waiting for more
      // active jobs than that would never end.
      const concurrency = QUEUES[MAINTENANCE_QUEUE].concurrency ?? config.WORKER_CONCURRENCY;
      while ((await queue.getActiveCount()) < concurrency) await sleep(50);
      const active = await queue.getActiveCount();
      await first.stop('SIGKILL');
      const killed = Date.now();
      await lock.release();
      const second = await startApp('worker', 'dist/worker/src/main.js', env, 'worker ready');
      let done = 0;
      // Bull moves a job back once its lock expired (30 s) and two stall checks 30 s apart have
      // seen it; the second check of a lone worker often falls on a still-set marker: ~60-95 s.
      while (Date.now() - killed < 150_000) {
        done = (await Promise.all(jobs.map((j) => j.getState()))).filter(
          (s) => s === 'completed',
        ).length;
        if (done === JOBS_ENQUEUED) break;
        await sleep(250);
      }
      const recoveredS = ((Date.now() - killed) / 1000).toFixed(1);
      const logged = second.count('stalled job recovered');
      await second.stop();
      const failures: string[] = [];
      if (done !== JOBS_ENQUEUED)
        failures.push(`${JOBS_ENQUEUED - done} jobs not completed in 150 s`);
      if (logged !== active) failures.push(`${logged} recoveries logged, not ${active}`);
      return {
        drill: this.name,
        notes: [
          `${done}/${JOBS_ENQUEUED} jobs completed ${recoveredS} s after the kill, ${active} of them active at the kill; ${logged} "stalled job recovered" lines`,
        ],
        failures,
      };
    } finally {
      await queue.close();
      await orm.close(true);
      await Promise.allSettled([pg.remove(), redis.remove()]);
    }
  },
};

const DRILLS: Drill[] = [
  redisDrill(
    'Redis killed',
    (s) => s.redis.kill(),
    (s) => s.redis.start(),
  ),
  redisDrill(
    'Redis frozen',
    (s) => s.redis.freeze(),
    (s) => s.redis.thaw(),
  ),
  postgresDrill(
    'PostgreSQL stopped',
    (s) => s.pg.stop(),
    (s) => s.pg.start(),
  ),
  postgresDrill(
    'PostgreSQL frozen',
    (s) => s.pg.freeze(),
    (s) => s.pg.thaw(),
  ),
  malformed,
  slowClients,
  sigterm,
];

async function main() {
  const only = process.argv.slice(2);
  const pick = (d: Drill) =>
    only.length === 0 || only.some((o) => d.name.toLowerCase().includes(o.toLowerCase()));
  const started = Date.now();
  const stack = await Stack.start({
    env: {
      // Limits stay on (their Redis path is drilled) but never throttle the drill's own load.
      RATE_LIMIT_PER_MINUTE: '10000000',
      RATE_LIMIT_AUTH_PER_MINUTE: '1000000',
      RATE_LIMIT_LOGIN_PER_ACCOUNT: '1000000',
      SHUTDOWN_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS),
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    },
  });
  console.log(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s (${stack.apiUrl})`);
  // Interrupted, it still removes its servers (they would outlive it otherwise).
  const interrupted = (signal: NodeJS.Signals) => {
    console.log(`\n${signal}: stopping the drill's servers…`);
    void stack.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  // Warm up (JIT, pools) so the first drill's "normal" is the process's normal.
  await reads(stack, 3000);
  const results: DrillResult[] = [];
  let background: Promise<DrillResult> | undefined;
  try {
    for (const drill of DRILLS.filter(pick)) {
      // The worker drill mostly waits (~35 s for Bull's lock to expire) on servers of its own:
      // it runs alongside the drills that have no latency target.
      if (drill.name.startsWith('PostgreSQL') && pick(workerKill))
        background ??= workerKill.run(stack);
      const t0 = Date.now();
      process.stdout.write(`${drill.name}… `);
      const result = await drill.run(stack).catch((err: Error): DrillResult => ({
        drill: drill.name,
        notes: [],
        failures: [err.message],
      }));
      results.push(result);
      console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    if (pick(workerKill)) {
      background ??= workerKill.run(stack);
      results.push(
        await background.catch((err: Error): DrillResult => ({
          drill: workerKill.name,
          notes: [],
          failures: [err.message],
        })),
      );
    }
  } finally {
    await stack.close();
  }
  console.log(`\n${table(results)}\n`);
  console.log(`drills took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (results.some((r) => r.failures.length > 0)) process.exitCode = 1;
}

await main();
