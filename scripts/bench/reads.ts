/**
 * The `reads` section: every hot read (tags, list, feed, single article, comments, profile),
 * anonymous and signed in, with the cache Redis reachable and unreachable, against the production
 * build on seeded data (scripts/drill/harness.ts). Per read: the app's CPU per request, the CPU of
 * the PostgreSQL backends serving the app's pool per request, capacity (req/s), p99 at a fixed
 * arrival rate of half that capacity, the cache hit ratio — CPU figures also as a multiple of a
 * bare Koa JSON endpoint measured in the same run (its CPU per request again just before each
 * row, the base of that row's ratios). Only 2xx responses count.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../service/test/support/process.js';
import { load, Stack, type LoadRequest } from '../drill/harness.js';
import type { BenchSection } from './index.js';
import {
  atFixedRate,
  backendsOf,
  CpuMeter,
  fmt,
  isolated,
  markdownTable,
  median,
  PINNED,
  startBareKoa,
} from './measure.js';

/** Requests per CPU measurement, and how long capacity and fixed-rate runs last. */
export const CPU_REQUESTS = Number(process.env.BENCH_CPU_REQUESTS ?? 2000);
/**
 * Requests of each bare-endpoint measurement before a row. utime + stime advance in clock ticks
 * (10 ms): 2,000 requests at 0.03 ms are 6 ticks, ±1 tick is ±17 % of every ratio of the row;
 * 10,000 are 30 (about half a second of load).
 */
const BARE_REQUESTS = Number(process.env.BENCH_BARE_REQUESTS ?? 10_000);
/**
 * Requests of the measured read before each CPU measurement, not counted, at the measurement's
 * concurrency. Code that another read just made hot is recompiled for this one: after 1,000
 * requests at 4 connections (until stop 26) the next 2,000 of a cached read cost up to 2.4× its
 * steady state on this kind of host (tags 0.38 against 0.155 ms, a signed-in list 1.04 against
 * 0.51), and which rows paid that changed from run to run.
 */
export const WARM_UP_REQUESTS = Number(process.env.BENCH_WARM_UP ?? 3000);
/**
 * CPU measurements per figure, each over its own requests; the figure is their median, so one
 * slice that met a compilation or a full garbage collection does not move it.
 */
const CPU_SLICES = Number(process.env.BENCH_CPU_SLICES ?? 3);
const CAPACITY_MS = Number(process.env.BENCH_CAPACITY_MS ?? 3000);
const FIXED_RATE_MS = Number(process.env.BENCH_FIXED_RATE_MS ?? 10_000);
/**
 * Only the rows whose `read viewer cache` contains this text (e.g. `articles?limit=20 signed in
 * cached`): a quick look at one read. @default every row
 */
const ONLY_ROWS = process.env.BENCH_READS_ONLY;
/** Rate limits far out of the way, so every request is a 2xx of the read itself. */
export const NO_LIMITS = {
  RATE_LIMIT_PER_MINUTE: '10000000',
  RATE_LIMIT_AUTH_PER_MINUTE: '1000000',
};

interface Measured {
  appCpuMs: number;
  dbCpuMs: number | null;
  reqPerSec: number;
  fixedRate: number;
  p99Ms: number;
  /** p99 from each request's actual send, and how many were sent over 1 ms late (JSON only). */
  p99SentMs: number;
  lateSends: number;
  /** The load generator's own event-loop delay, p99 and max (JSON only). */
  generatorDelayP99Ms: number;
  generatorDelayMaxMs: number;
  /**
   * The app's CPU per request while answering at the fixed rate, and the share of one CPU that
   * makes at that rate: one request at a time costs more than the same request among 16 in
   * flight (capacity's closed loop), so "half the capacity" keeps the server busier than half.
   */
  atRateCpuMs: number;
  busyAtRate: number;
  non2xx: number;
}

interface Row extends Measured {
  read: string;
  viewer: 'anonymous' | 'signed in' | '';
  cache: 'cached' | 'uncached' | '';
  /** The bare endpoint's CPU per request, measured just before this row: the ratios' base. */
  bareCpuMs: number;
  appRatio: number;
  dbRatio: number | null;
  hitRatio: number | null;
}

/**
 * CPU per 2xx answer of the app (`pid`) and, given `backends`, of its PostgreSQL backends: the
 * median of `slices` runs of `amount` requests each, after a warm-up; `non2xx` counts the rest.
 */
export async function cpuPerRequest(
  url: string,
  pid: number,
  requests: LoadRequest[],
  {
    backends,
    amount = CPU_REQUESTS,
    slices = CPU_SLICES,
  }: { backends?: () => Promise<number[]>; amount?: number; slices?: number } = {},
): Promise<{ appCpuMs: number; dbCpuMs: number | null; non2xx: number }> {
  // Warm-up (JIT, pool, cache): a process compiles its hot code on background threads, whose CPU
  // time its utime + stime includes.
  await load(url, requests, { amount: WARM_UP_REQUESTS, connections: 8 });
  const app: number[] = [];
  const db: number[] = [];
  let non2xx = 0;
  for (let slice = 0; slice < slices; slice++) {
    const before = backends ? await backends() : [];
    const appMeter = new CpuMeter([pid]);
    const dbMeter = new CpuMeter(before);
    const run = await load(url, requests, { amount, connections: 8 });
    const appSpent = appMeter.spent();
    const dbSpent = backends ? dbMeter.spent(await backends()) : null;
    const ok = Math.max(1, run.ok);
    app.push(appSpent / ok);
    if (dbSpent !== null) db.push(dbSpent / ok);
    non2xx += run.total - run.ok;
  }
  return { appCpuMs: median(app), dbCpuMs: backends ? median(db) : null, non2xx };
}

/**
 * The bare Koa endpoint's CPU per request, the base of every "× bare": cpuPerRequest over
 * BARE_REQUESTS. Every section measures its base this way.
 */
export function bareCpuPerRequest(bare: { url: string; app: { pid: number } }) {
  return cpuPerRequest(bare.url, bare.app.pid, [{ path: '/' }], { amount: BARE_REQUESTS });
}

export async function measure(
  url: string,
  pid: number,
  requests: LoadRequest[],
  backends?: () => Promise<number[]>,
  stores?: () => Promise<number[]>,
): Promise<Measured> {
  return isolated(
    pid,
    async () => {
      const cpu = await cpuPerRequest(url, pid, requests, { backends });
      const capacity = await load(url, requests, { durationMs: CAPACITY_MS, connections: 16 });
      const reqPerSec = Math.round(capacity.ok / (CAPACITY_MS / 1000));
      const fixedRate = Math.max(1, Math.round(reqPerSec / 2));
      // Open loop, evenly spaced arrivals (not autocannon's overallRate, which sends each second's
      // share as a burst at full concurrency: see fixed-rate.ts).
      const atRate = new CpuMeter([pid]);
      const fixed = await atFixedRate(url, requests, {
        durationMs: FIXED_RATE_MS,
        ratePerSecond: fixedRate,
      });
      // The generator's uncounted warm-up second is in the CPU window too.
      const atRateCpuMs = atRate.spent() / (fixed.total + fixedRate);
      return {
        appCpuMs: cpu.appCpuMs,
        dbCpuMs: cpu.dbCpuMs,
        reqPerSec,
        fixedRate,
        p99Ms: fixed.p99Ms,
        p99SentMs: fixed.p99SentMs,
        lateSends: fixed.late,
        generatorDelayP99Ms: fixed.generatorDelayP99Ms,
        generatorDelayMaxMs: fixed.generatorDelayMaxMs,
        atRateCpuMs,
        busyAtRate: (atRateCpuMs * fixedRate) / 1000,
        non2xx: cpu.non2xx + (capacity.total - capacity.ok) + (fixed.total - fixed.ok),
      };
    },
    stores,
  );
}

/**
 * Runs `each` with the API restarted twice: `cached` (cache Redis reachable) and `uncached`
 * (REDIS_CACHE_URL on a port nobody listens on).
 */
export async function inCacheModes(
  stack: Stack,
  each: (cache: 'cached' | 'uncached') => Promise<void>,
): Promise<void> {
  const deadPort = await freePort();
  for (const cache of ['cached', 'uncached'] as const) {
    await stack.api.stop();
    await stack.startApi(
      cache === 'cached'
        ? { REDIS_CACHE_URL: stack.env.REDIS_URL! }
        : { REDIS_CACHE_URL: `redis://127.0.0.1:${deadPort}` },
    );
    await sleep(500);
    await each(cache);
  }
}

/** Share of `X-Cache: hit` answers over a sample of sequential requests (null: no header). */
async function hitRatio(url: string, request: LoadRequest, n = 100): Promise<number | null> {
  let hits = 0;
  let answered = 0;
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${url}${request.path}`, { headers: request.headers ?? {} });
    await res.arrayBuffer();
    const header = res.headers.get('x-cache');
    if (header === null) continue;
    answered += 1;
    if (header === 'hit') hits += 1;
  }
  return answered === 0 ? null : hits / answered;
}

function table(rows: Row[]): string {
  const header = [
    'read',
    'viewer',
    'cache',
    'app CPU ms/req',
    'bare ms/req',
    '× bare',
    'DB CPU ms/req',
    '× bare',
    'req/s',
    'p99 ms @ rate',
    'busy @ rate',
    'hit ratio',
    'non-2xx',
  ];
  const lines = rows.map((r) => [
    r.read,
    r.viewer,
    r.cache,
    fmt(r.appCpuMs),
    fmt(r.bareCpuMs),
    fmt(r.appRatio, 1),
    fmt(r.dbCpuMs),
    fmt(r.dbRatio, 1),
    String(r.reqPerSec),
    `${r.p99Ms} @ ${r.fixedRate}/s`,
    `${Math.round(r.busyAtRate * 100)}%`,
    r.hitRatio === null ? 'n/a' : `${Math.round(r.hitRatio * 100)}%`,
    String(r.non2xx),
  ]);
  return markdownTable(header, lines);
}

/** Issue 9: with the cache Redis unreachable, p99 stays within this multiple of its cached value. */
const UNCACHED_P99_BOUND = 2;

/** Per read and viewer: p99 uncached ÷ p99 cached, each at its own fixed rate. */
function p99Comparison(rows: Row[]) {
  return rows
    .filter((r) => r.cache === 'cached')
    .flatMap((cached) => {
      const uncached = rows.find(
        (r) => r.cache === 'uncached' && r.read === cached.read && r.viewer === cached.viewer,
      );
      if (!uncached) return [];
      const ratio = uncached.p99Ms / Math.max(cached.p99Ms, 0.1);
      return [{ read: cached.read, viewer: cached.viewer, cached, uncached, ratio }];
    });
}

function p99Table(comparison: ReturnType<typeof p99Comparison>): string {
  return markdownTable(
    [
      'read',
      'viewer',
      'p99 cached',
      'p99 uncached',
      'uncached ÷ cached',
      `≤ ${UNCACHED_P99_BOUND}`,
    ],
    comparison.map((c) => [
      c.read,
      c.viewer,
      `${c.cached.p99Ms} ms @ ${c.cached.fixedRate}/s`,
      `${c.uncached.p99Ms} ms @ ${c.uncached.fixedRate}/s`,
      fmt(c.ratio, 2),
      c.ratio <= UNCACHED_P99_BOUND ? 'yes' : 'NO',
    ]),
  );
}

export const readsSection: BenchSection = {
  name: 'reads',
  description:
    'Hot reads on the production build (seed: 50 users, 500 articles, 5,000 comments), cached ' +
    '(cache Redis up) and uncached (REDIS_CACHE_URL on a dead port). CPU = the process’s own ' +
    `utime+stime over ${CPU_REQUESTS} requests ÷ 2xx answers (median of ${CPU_SLICES} such runs, ` +
    `after ${WARM_UP_REQUESTS} of the same read); DB CPU = the PostgreSQL backends ` +
    'of the app’s pool (pg_stat_activity ∩ the app’s sockets); bare ms/req = the bare Koa ' +
    `endpoint’s CPU per request the same way over ${BARE_REQUESTS} requests just before the row, the base ` +
    'of its × bare; ' +
    'req/s = capacity with 16 ' +
    'connections; p99 at a fixed arrival rate of half that (open loop, evenly spaced, latency ' +
    'from each request’s scheduled time); busy @ rate = the app’s CPU time per request during ' +
    'that run × the rate, as a share of one CPU. ' +
    'Rate limits set out of the way for the run (RATE_LIMIT_PER_MINUTE=10000000). ' +
    (PINNED
      ? 'The server under test runs alone on CPU 0, the load generators and its PostgreSQL ' +
        'and Redis on the other CPUs (taskset; BENCH_PIN=0 turns it off).'
      : 'CPU pinning off: server and load generators share the CPUs.'),
  async run() {
    const stack = await Stack.start({ env: NO_LIMITS, accessLog: false });
    const rows: Row[] = [];
    let bare: Awaited<ReturnType<typeof startBareKoa>> | undefined;
    try {
      const anon = {};
      const signed = { Authorization: `Token ${stack.token}` };
      const list = (await (await stack.fetch('/api/articles?limit=1')).json()) as {
        articles: { slug: string; author: { username: string } }[];
      };
      const slug = list.articles[0]!.slug;
      const username = list.articles[0]!.author.username;
      const reads: { read: string; path: string; viewers: ('anonymous' | 'signed in')[] }[] = [
        { read: 'GET /api/tags', path: '/api/tags', viewers: ['anonymous', 'signed in'] },
        {
          read: 'GET /api/articles?limit=20',
          path: '/api/articles?limit=20',
          viewers: ['anonymous', 'signed in'],
        },
        {
          read: 'GET /api/articles/feed',
          path: '/api/articles/feed?limit=20',
          viewers: ['signed in'],
        },
        {
          read: 'GET /api/articles/{slug}',
          path: `/api/articles/${slug}`,
          viewers: ['anonymous', 'signed in'],
        },
        {
          read: 'GET /api/articles/{slug}/comments',
          path: `/api/articles/${slug}/comments`,
          viewers: ['anonymous', 'signed in'],
        },
        {
          read: 'GET /api/profiles/{username}',
          path: `/api/profiles/${username}`,
          viewers: ['anonymous', 'signed in'],
        },
      ];

      // The bare endpoint stays up: its CPU per request is measured again just before each row
      // and is that row's base, so a machine whose speed drifts over the run (a shared host: the
      // same bare endpoint measured 0.085 and 0.115 ms an hour apart) moves both alike.
      const bareServer = await startBareKoa();
      bare = bareServer;
      const bareFig = await measure(bareServer.url, bareServer.app.pid, [{ path: '/' }]);
      rows.push({
        read: 'bare Koa JSON endpoint',
        viewer: '',
        cache: '',
        ...bareFig,
        bareCpuMs: bareFig.appCpuMs,
        appRatio: 1,
        dbRatio: null,
        hitRatio: null,
      });
      const bareNow = async () =>
        (await isolated(bareServer.app.pid, () => bareCpuPerRequest(bareServer))).appCpuMs;

      const requestOf = (path: string, viewer: 'anonymous' | 'signed in'): LoadRequest => ({
        path,
        headers: viewer === 'anonymous' ? anon : signed,
      });
      const every = reads.flatMap((r) => r.viewers.map((viewer) => requestOf(r.path, viewer)));
      await inCacheModes(stack, async (cache) => {
        // Every read, cycled, on the freshly started API first: otherwise the first row measured
        // also pays for compiling the code that all of them share. 2,000 requests were not enough:
        // the first row (anonymous tags) still cost about twice the same cached body signed in,
        // while a CPU profile of 60,000 requests of each finds them equal.
        await load(stack.apiUrl, every, { amount: 20_000, connections: 8 });
        for (const r of reads) {
          for (const viewer of r.viewers) {
            if (ONLY_ROWS && !`${r.read} ${viewer} ${cache}`.includes(ONLY_ROWS)) continue;
            const request = requestOf(r.path, viewer);
            const bareCpuMs = await bareNow();
            const fig = await measure(
              stack.apiUrl,
              stack.api.pid,
              [request],
              () => backendsOf(stack.orm, stack.api.pid),
              () => stack.storePids(),
            );
            rows.push({
              read: r.read,
              viewer,
              cache,
              ...fig,
              bareCpuMs,
              appRatio: fig.appCpuMs / bareCpuMs,
              dbRatio: fig.dbCpuMs === null ? null : fig.dbCpuMs / bareCpuMs,
              hitRatio: await hitRatio(stack.apiUrl, request),
            });
            console.log(`  measured ${r.read} ${viewer} ${cache}`);
          }
        }
      });
    } finally {
      await bare?.app.stop();
      await stack.close();
    }
    const comparison = p99Comparison(rows);
    return {
      table:
        comparison.length === 0
          ? table(rows)
          : `${table(rows)}\n\nCache Redis unreachable vs reachable (each at half its own ` +
            `capacity):\n\n${p99Table(comparison)}`,
      data: {
        rows,
        cpuRequests: CPU_REQUESTS,
        pinned: PINNED,
        uncachedP99: comparison.map(({ read, viewer, ratio }) => ({ read, viewer, ratio })),
      },
    };
  },
};
