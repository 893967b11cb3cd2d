/**
 * `npm run bench:scale [-- --max N --rate R --write-rate W --seconds S]`: 1 vs N API processes behind the local
 * HAProxy (scripts/stack/local-stack.ts, production build) at a fixed, modest arrival rate, for a
 * read mix and a write-heavy mix. Per step: CPU time per request of each API process (from
 * /proc, over the requests HAProxy counted for it), p99 through the load balancer, and the load
 * balancer's spread. On a 2-core machine throughput cannot scale; what must hold is that CPU per
 * request and p99 stay flat as N grows and that HAProxy spreads evenly. Ratios are against N=1 in
 * the same run. Writes `.local/bench/scale.json` and `.local/bench/scale.svg` (the chart).
 *
 * Also the `scale` section of `npm run bench` ({@link scaleBenchSection}, defaults only).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../../service/test/support/paths.js';
import { load, readMix, type LoadRequest } from '../drill/harness.js';
import { DRILL_ENV } from '../drill/stack.js';
import { LocalStack } from '../stack/local-stack.js';
import type { BenchSection } from './index.js';
import { cpuMs } from './measure.js';
import { scaleChart } from './scale-chart.js';

export interface ScaleOptions {
  /** Largest number of API processes (steps 1..max). */
  max: number;
  /** Requests per second of the read mix through HAProxy, the same for every step. */
  rate: number;
  /** Requests per second of the write-heavy mix (writes cost several times a read). */
  writeRate: number;
  /** Measured seconds per step (after a 3 s warm-up at the same rate). */
  seconds: number;
  outDir: string;
}

export interface ScaleRow {
  mix: 'read' | 'write-heavy';
  processes: number;
  requests: number;
  /** Measured seconds (the achieved rate is requests / seconds). */
  seconds: number;
  failed: number;
  p99Ms: number;
  /** CPU ms per request, all active API processes together. */
  cpuMsPerRequest: number;
  /** The same without what the processes spend idle (timers, pings), measured before the step. */
  netCpuMsPerRequest: number;
  /** CPU ms per second the active processes spend with no requests, together. */
  idleCpuMsPerSecond: number;
  /** Per process: its share of the requests and its CPU ms per request. */
  perProcess: { name: string; requests: number; share: number; cpuMsPerRequest: number }[];
  /** HAProxy's own CPU ms per request. */
  lbCpuMsPerRequest: number;
  /** Largest |share − 1/N| over the processes, in percentage points. */
  spreadSkewPct: number;
}

/** Writes two thirds of the time: articles (unique titles), comments, favorites; and reads. */
async function writeMix(stack: LocalStack): Promise<LoadRequest[]> {
  const [row] = await stack.orm.em
    .fork()
    .getConnection()
    .execute<{ slug: string }[]>('select slug from articles order by id limit 1');
  const auth = { Authorization: `Token ${stack.token}`, 'Content-Type': 'application/json' };
  let n = 0;
  const article: LoadRequest = {
    method: 'POST',
    path: '/api/articles',
    headers: auth,
    setupRequest: (req) => ({
      ...req,
      body: JSON.stringify({
        article: {
          title: `Scale bench ${process.pid} ${(n += 1)} ${Math.random().toString(36).slice(2, 8)}`,
          description: 'bench',
          body: 'A body of a modest length, as most articles have. '.repeat(8),
          tagList: ['bench', 'scale'],
        },
      }),
    }),
  };
  const comment: LoadRequest = {
    method: 'POST',
    path: `/api/articles/${row!.slug}/comments`,
    headers: auth,
    body: JSON.stringify({ comment: { body: 'A comment from the scale benchmark.' } }),
  };
  return [
    article,
    comment,
    { path: '/api/articles?limit=10' },
    comment,
    { method: 'POST', path: `/api/articles/${row!.slug}/favorite`, headers: auth },
    { path: `/api/articles/${row!.slug}` },
  ];
}

/** Puts api1..apiN in rotation and the rest in maintenance; waits until HAProxy agrees. */
async function activate(stack: LocalStack, n: number) {
  for (const [i, api] of stack.apis.entries()) await stack.setServer(api.name, i < n);
  for (;;) {
    const stats = await stack.serverStats();
    if (stats.every((s, i) => (i < n ? s.status === 'UP' : s.status.startsWith('MAINT')))) return;
    await sleep(100);
  }
}

async function step(
  stack: LocalStack,
  mix: ScaleRow['mix'],
  requests: LoadRequest[],
  n: number,
  rate: number,
  options: ScaleOptions,
): Promise<ScaleRow> {
  await activate(stack, n);
  await load(stack.url, requests, { durationMs: 3000, ratePerSecond: rate });
  const active = stack.apis.slice(0, n);
  // Idle cost first: N processes have N sets of timers, which a low per-process rate amortises
  // over fewer requests; the net figure is what a request itself costs.
  await sleep(2000);
  const idle0 = active.map((a) => cpuMs(a.pid));
  const idleStart = performance.now();
  await sleep(3000);
  const idleMsPerSecond =
    (active.reduce((a, p, i) => a + cpuMs(p.pid) - idle0[i]!, 0) * 1000) /
    (performance.now() - idleStart);
  const cpu0 = active.map((a) => cpuMs(a.pid));
  const loadStart = performance.now();
  const lb0 = cpuMs(stack.state.haproxy.pid);
  const stats0 = await stack.serverStats();
  const result = await load(stack.url, requests, {
    durationMs: options.seconds * 1000,
    ratePerSecond: rate,
    connections: 16,
  });
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const stats1 = await stack.serverStats();
  const cpu1 = active.map((a) => cpuMs(a.pid));
  const lb1 = cpuMs(stack.state.haproxy.pid);
  const perProcess = active.map((a, i) => {
    const handled = stats1[i]!.total - stats0[i]!.total;
    return {
      name: a.name,
      requests: handled,
      share: 0,
      cpuMsPerRequest: handled ? (cpu1[i]! - cpu0[i]!) / handled : 0,
    };
  });
  const handled = perProcess.reduce((a, p) => a + p.requests, 0);
  for (const p of perProcess) p.share = handled ? p.requests / handled : 0;
  const spentMs = cpu1.reduce((a, c, i) => a + (c - cpu0[i]!), 0);
  return {
    mix,
    processes: n,
    requests: result.total,
    seconds: options.seconds,
    failed: result.total - result.ok,
    p99Ms: result.p99Ms,
    cpuMsPerRequest: handled ? spentMs / handled : 0,
    netCpuMsPerRequest: handled
      ? Math.max(0, spentMs - idleMsPerSecond * loadSeconds) / handled
      : 0,
    idleCpuMsPerSecond: idleMsPerSecond,
    perProcess,
    lbCpuMsPerRequest: handled ? (lb1 - lb0) / handled : 0,
    spreadSkewPct: Math.max(...perProcess.map((p) => Math.abs(p.share - 1 / n) * 100)),
  };
}

const fixed = (x: number, digits = 2) => x.toFixed(digits);

/** The results as a Markdown table, ratios against N=1 of the same mix. */
export function scaleTable(rows: ScaleRow[]): string {
  const header = [
    'mix',
    'APIs',
    'requests',
    'req/s',
    'failed',
    'p99 ms',
    'p99 vs 1',
    'CPU ms/req',
    'idle CPU ms/s',
    'net CPU ms/req',
    'net vs 1',
    'per process: share, CPU ms/req',
    'LB CPU ms/req',
  ];
  const lines = rows.map((r) => {
    const base = rows.find((b) => b.mix === r.mix && b.processes === 1) ?? r;
    return [
      r.mix,
      String(r.processes),
      String(r.requests),
      fixed(r.requests / r.seconds, 1),
      String(r.failed),
      String(r.p99Ms),
      `${fixed(r.p99Ms / base.p99Ms)}×`,
      fixed(r.cpuMsPerRequest),
      fixed(r.idleCpuMsPerSecond, 1),
      fixed(r.netCpuMsPerRequest),
      `${fixed(r.netCpuMsPerRequest / base.netCpuMsPerRequest)}×`,
      r.perProcess
        .map((p) => `${p.name} ${Math.round(p.share * 100)}% ${fixed(p.cpuMsPerRequest)}`)
        .join(', '),
      fixed(r.lbCpuMsPerRequest, 3),
    ];
  });
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...lines.map(line)].join('\n');
}

/** The section: brings up the topology with `max` API processes, measures, tears it down. */
export async function scaleSection(options: ScaleOptions): Promise<ScaleRow[]> {
  const stack = await LocalStack.start({
    dir: path.join(REPO_ROOT, '.local/bench-stack'),
    apis: options.max,
    worker: false,
    env: { ...DRILL_ENV, LOG_LEVEL: 'warn', SHUTDOWN_DRAIN_DELAY_MS: '0' },
    progress: (line) => console.log(`stack: ${line}`),
  });
  const rows: ScaleRow[] = [];
  try {
    const mixes = [
      ['read', await readMix(stack)],
      ['write-heavy', await writeMix(stack)],
    ] as const;
    for (const [mix, requests] of mixes) {
      for (let n = 1; n <= options.max; n += 1) {
        process.stdout.write(`${mix}, ${n} API process(es)… `);
        const rate = mix === 'read' ? options.rate : options.writeRate;
        if (n === 1) {
          // Every process warm (JIT, pools, cache) before the first step of a mix: otherwise a
          // process's first step would carry its warm-up and N > 1 would look dearer.
          await activate(stack, options.max);
          await load(stack.url, requests, { durationMs: 6000, ratePerSecond: rate });
        }
        const row = await step(stack, mix, requests, n, rate, options);
        console.log(
          `p99 ${row.p99Ms} ms, ${fixed(row.cpuMsPerRequest)} CPU ms/req (${fixed(row.netCpuMsPerRequest)} net of idle)`,
        );
        rows.push(row);
      }
    }
  } finally {
    await stack.stop();
  }
  await mkdir(options.outDir, { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    rate: options.rate,
    writeRate: options.writeRate,
    seconds: options.seconds,
  };
  await writeFile(
    path.join(options.outDir, 'scale.json'),
    `${JSON.stringify({ ...meta, rows }, null, 2)}\n`,
  );
  await writeFile(path.join(options.outDir, 'scale.svg'), scaleChart(rows, meta));
  return rows;
}

const DEFAULTS = { max: 3, rate: 40, writeRate: 10, seconds: 12 };

/** `npm run bench -- --only scale`: the defaults; `npm run bench:scale -- --max …` to vary them. */
export const scaleBenchSection: BenchSection = {
  name: 'scale',
  description: `1 vs N API processes (N ≤ ${DEFAULTS.max}) behind the local HAProxy at ${DEFAULTS.rate} req/s (reads) and ${DEFAULTS.writeRate} req/s (write-heavy) for ${DEFAULTS.seconds} s per step, read and write-heavy mixes: CPU ms per request per process, p99, the balancer's spread; ratios against N=1. Chart: .local/bench/scale.svg`,
  async run() {
    const rows = await scaleSection({ ...DEFAULTS, outDir: path.join(REPO_ROOT, '.local/bench') });
    return { table: scaleTable(rows), data: rows };
  },
};

async function main() {
  const { values } = parseArgs({
    options: {
      max: { type: 'string', default: String(DEFAULTS.max) },
      rate: { type: 'string', default: String(DEFAULTS.rate) },
      'write-rate': { type: 'string', default: String(DEFAULTS.writeRate) },
      seconds: { type: 'string', default: String(DEFAULTS.seconds) },
    },
  });
  const options: ScaleOptions = {
    max: Number(values.max),
    rate: Number(values.rate),
    writeRate: Number(values['write-rate']),
    seconds: Number(values.seconds),
    outDir: path.join(REPO_ROOT, '.local/bench'),
  };
  const rows = await scaleSection(options);
  console.log(
    `\n1 vs N API processes behind HAProxy, ${options.rate} req/s (reads), ${options.writeRate} req/s (write-heavy), ${options.seconds} s per step\n`,
  );
  console.log(scaleTable(rows));
  console.log(`\nwrote .local/bench/scale.json and .local/bench/scale.svg`);
  if (rows.some((r) => r.failed > 0)) process.exitCode = 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  await main();
