/**
 * The `replicas` section: read replicas on a private primary and its real streaming replica
 * (scripts/stores.sh replica-set), seeded, with the read cache off so every read reaches a
 * database. Two figures (docs/read-replicas.md):
 *
 * 1. the share of read statements the replica served under a read-heavy mix (anonymous and
 *    signed-in reads, 10 % signed-in writes), counted by the router itself
 *    (`plinth_db_reads_total`) in an in-process app;
 * 2. the uncached article list's CPU per request on the production build with routing off and
 *    on (the process's own utime + stime), against a bare Koa endpoint measured in the same run.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { appRedisGuard, createApp } from '../../service/src/app.js';
import { loadConfig } from '../../service/src/config.js';
import { ensureDatabase } from '../../service/src/db/admin.js';
import { connectOrm } from '../../service/src/db/orm.js';
import { replicaRouter } from '../../service/src/db/replica-routing.js';
import { replicaList } from '../../service/src/db/replicas.js';
import { DEMO_USER } from '../../service/src/db/seed-data.js';
import { createLogger } from '../../service/src/logger.js';
import { createMetrics } from '../../service/src/metrics.js';
import { connectRedis, createRedis } from '../../service/src/redis.js';
import { freePort } from '../../service/test/support/process.js';
import { startPrivateReplicaSet, startPrivateStore } from '../../service/test/support/stores.js';
import { load, runToEnd, startApp, type LoadRequest } from '../drill/harness.js';
import type { BenchSection } from './index.js';
import { startBareKoa } from './measure.js';
import {
  bareCpuPerRequest,
  CPU_REQUESTS,
  cpuPerRequest,
  NO_LIMITS,
  WARM_UP_REQUESTS,
} from './reads.js';

const MIX_REQUESTS = Number(process.env.BENCH_MIX_REQUESTS ?? 4000);

interface Share {
  anonymous: { replica: number; total: number };
  signedIn: { replica: number; total: number };
}

/** Counts of plinth_db_reads_total by viewer and role. */
async function readCounts(metrics: ReturnType<typeof createMetrics>): Promise<Share> {
  const metric = metrics.getSingleMetric('plinth_db_reads_total');
  const share: Share = {
    anonymous: { replica: 0, total: 0 },
    signedIn: { replica: 0, total: 0 },
  };
  for (const v of (await metric?.get())?.values ?? []) {
    const bucket = v.labels.viewer === 'anonymous' ? share.anonymous : share.signedIn;
    bucket.total += v.value;
    if (v.labels.role === 'replica') bucket.replica += v.value;
  }
  return share;
}

/** The read-heavy mix through an in-process app with routing on; the router counts the reads. */
async function mixShare(env: Record<string, string>, replicaUrl: string): Promise<Share> {
  const config = loadConfig({ ...env, DATABASE_REPLICA_URLS: replicaUrl, LOG_LEVEL: 'warn' });
  const logger = createLogger({ level: 'warn' });
  const orm = await connectOrm(config, logger);
  const redis = createRedis(config, logger);
  await connectRedis(redis);
  const metrics = createMetrics();
  const guard = appRedisGuard(redis, config, logger);
  const list = replicaList(config, logger)!;
  const replicas = replicaRouter({ config, primary: orm, replicas: list, guard, logger, metrics });
  await replicas.start();
  const app = createApp({ config, orm, redis, logger, guard, replicas, metrics });
  const server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const sql = <T>(q: string) => orm.em.fork().getConnection().execute<T[]>(q);
    const users = await sql<{ email: string; username: string }>(
      'select email, username from users order by id limit 4',
    );
    const slugs = (
      await sql<{ slug: string }>("select slug from articles where status = 'published' limit 20")
    ).map((r) => r.slug);
    const tokens: string[] = [];
    for (const u of users) {
      const res = await fetch(`${url}/api/users/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ user: { email: u.email, password: DEMO_USER.password } }),
      });
      tokens.push(((await res.json()) as { user: { token: string } }).user.token);
    }
    const reads = (i: number) => [
      `/api/articles?limit=10&offset=${(i % 5) * 10}`,
      `/api/articles/${slugs[i % slugs.length]}`,
      `/api/articles/${slugs[(i + 3) % slugs.length]}/comments`,
      '/api/tags',
      `/api/profiles/${users[i % users.length]!.username}`,
      `/api/articles?limit=5&offset=${i % 7}`,
    ];
    const requests: LoadRequest[] = [];
    // Per cycle of 20: 12 anonymous reads, 6 signed-in reads, 2 signed-in writes (10 %).
    for (let i = 0; i < 12; i++) requests.push({ path: reads(i)[i % 6]! });
    for (let i = 0; i < 6; i++) {
      const token = tokens[i % tokens.length]!;
      const path = i === 5 ? '/api/articles/feed?limit=10' : reads(i + 1)[i % 6]!;
      requests.push({ path, headers: { Authorization: `Token ${token}` } });
    }
    const writer = { Authorization: `Token ${tokens[0]!}` };
    requests.push({ method: 'POST', path: `/api/articles/${slugs[0]}/favorite`, headers: writer });
    requests.push({
      method: 'DELETE',
      path: `/api/articles/${slugs[0]}/favorite`,
      headers: writer,
    });
    await load(url, requests, { amount: 200, connections: 4 }); // warm up
    const before = await readCounts(metrics);
    await load(url, requests, { amount: MIX_REQUESTS, connections: 8 });
    const after = await readCounts(metrics);
    return {
      anonymous: {
        replica: after.anonymous.replica - before.anonymous.replica,
        total: after.anonymous.total - before.anonymous.total,
      },
      signedIn: {
        replica: after.signedIn.replica - before.signedIn.replica,
        total: after.signedIn.total - before.signedIn.total,
      },
    };
  } finally {
    server.closeAllConnections();
    server.close();
    await replicas.stop();
    await orm.close(true);
    redis.disconnect();
  }
}

const pct = (part: number, total: number) =>
  total === 0 ? 'n/a' : `${((100 * part) / total).toFixed(1)}%`;

export const replicasSection: BenchSection = {
  name: 'replicas',
  description:
    'Read replicas (private primary + real streaming replica, seeded: 50 users, 500 articles, ' +
    '5,000 comments; read cache off). Share: read statements by where they ran over ' +
    `${MIX_REQUESTS} requests of a read-heavy mix (60 % anonymous reads, 30 % signed-in reads, ` +
    '10 % signed-in writes), counted by the router (plinth_db_reads_total). CPU: the built API ' +
    `process's utime+stime over ${CPU_REQUESTS} uncached GET /api/articles?limit=20 ÷ 2xx ` +
    `answers (each after ${WARM_UP_REQUESTS} of the same: reads.ts, cpuPerRequest), routing off (no replica ` +
    'configured) and on, each measured twice (off, on, on, off); the bare Koa endpoint as in the ' +
    'reads section.',
  async run() {
    const [set, redisStore] = await Promise.all([
      startPrivateReplicaSet(),
      startPrivateStore('redis'),
    ]);
    try {
      const databaseUrl = set.primary.url.replace(/\/postgres$/, '/plinth_bench');
      const replicaUrl = set.replica.url.replace(/\/postgres$/, '/plinth_bench');
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        NODE_ENV: 'production',
        APP_ENV: 'bench',
        DATABASE_URL: databaseUrl,
        REDIS_URL: redisStore.url,
        JWT_SECRET: 'bench-secret-that-is-long-enough-for-hs256-0123456789',
        LOG_LEVEL: 'info',
        HOST: '127.0.0.1',
        // Two APIs run side by side: each its own free metrics port, not both the default 9464.
        METRICS_PORT: '0',
        CACHE_ENABLED: 'false',
        ...NO_LIMITS,
      };
      await ensureDatabase(databaseUrl);
      await runToEnd('dist/service/src/db/migrate.js', env);
      await runToEnd('dist/service/src/db/seed.js', env);
      await set.replica.catchUp();

      const share = await mixShare(env, replicaUrl);
      console.log('  measured the mix');

      const bare = await startBareKoa();
      const bareMs = (await bareCpuPerRequest(bare)).appCpuMs;
      await bare.app.stop();
      // Both APIs run side by side and are measured in the order off, on, on, off, so drift in
      // the machine's load falls on both alike.
      const apis: Partial<
        Record<'off' | 'on', { url: string; pid: number; stop(): Promise<void> }>
      > = {};
      const cpu: Record<'off' | 'on', number> = { off: 0, on: 0 };
      try {
        for (const routing of ['off', 'on'] as const) {
          const port = await freePort();
          const api = await startApp(
            `api-routing-${routing}`,
            'dist/service/src/server.js',
            {
              ...env,
              PORT: String(port),
              ...(routing === 'on' ? { DATABASE_REPLICA_URLS: replicaUrl } : {}),
            },
            'service listening',
          );
          apis[routing] = { url: `http://127.0.0.1:${port}`, pid: api.pid, stop: () => api.stop() };
        }
        await sleep(300);
        for (const routing of ['off', 'on', 'on', 'off'] as const) {
          const { url, pid } = apis[routing]!;
          // One run each time: the four runs' order is what cancels drift.
          const fig = await cpuPerRequest(url, pid, [{ path: '/api/articles?limit=20' }], {
            slices: 1,
          });
          cpu[routing] += fig.appCpuMs / 2;
          console.log(`  measured the uncached list, routing ${routing}`);
        }
      } finally {
        // Also when the second failed to start: no API outlives the section.
        await Promise.all(Object.values(apis).map((api) => api.stop()));
      }

      const rows = [
        ['figure', 'value', 'target'],
        [
          'anonymous read statements served by the replica',
          `${pct(share.anonymous.replica, share.anonymous.total)} (${share.anonymous.replica} of ${share.anonymous.total})`,
          '≥ 80%',
        ],
        [
          'signed-in read statements served by the replica',
          `${pct(share.signedIn.replica, share.signedIn.total)} (${share.signedIn.replica} of ${share.signedIn.total})`,
          '',
        ],
        [
          'all read statements served by the replica',
          pct(
            share.anonymous.replica + share.signedIn.replica,
            share.anonymous.total + share.signedIn.total,
          ),
          '',
        ],
        ['bare Koa JSON endpoint, CPU ms/req', bareMs.toFixed(3), ''],
        [
          'uncached list, routing off, CPU ms/req',
          `${cpu.off.toFixed(3)} (${(cpu.off / bareMs).toFixed(1)}× bare)`,
          '',
        ],
        [
          'uncached list, routing on, CPU ms/req',
          `${cpu.on.toFixed(3)} (${(cpu.on / bareMs).toFixed(1)}× bare)`,
          '',
        ],
        ['routing on ÷ off', (cpu.on / cpu.off).toFixed(2), '≤ 1 (no worse)'],
      ];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
      const table = [
        line(rows[0]!),
        line(widths.map((w) => '-'.repeat(w))),
        ...rows.slice(1).map(line),
      ].join('\n');
      return {
        table,
        data: { share, cpuMsPerRequest: { bare: bareMs, ...cpu }, MIX_REQUESTS, CPU_REQUESTS },
      };
    } finally {
      await Promise.allSettled([set.remove(), redisStore.remove()]);
    }
  },
};
