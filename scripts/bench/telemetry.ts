/**
 * The `telemetry` section: what tracing costs the hot reads. The production build runs as
 * `start:service` runs it (`node --import ./dist/service/src/tracing.js`), twice side by side:
 * telemetry off (OTEL_SDK_DISABLED=true) and on at 100 % sampling (OTEL_TRACES_SAMPLER=always_on)
 * exporting OTLP/HTTP to a receiver in this process; per read, each API's CPU per 2xx answer
 * (median of the rounds, the two measured back to back in each against machine drift) and the
 * ratio against the bound of issue 17: at most +15 %. Prometheus metrics are on in both modes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { otlpReceiver } from '../../service/test/support/otlp.js';
import { load, Stack, type AppProcess, type LoadRequest } from '../drill/harness.js';
import type { BenchSection } from './index.js';
import { markdownTable, median } from './measure.js';
import { CPU_REQUESTS, cpuPerRequest, NO_LIMITS } from './reads.js';

/** The most that tracing at 100 % sampling may add to a hot read's CPU per request. */
const BOUND = 1.15;
/**
 * Rounds of measurements. Both APIs run side by side and each read is measured on one right after
 * the other (off first in odd rounds, on first in even ones): runs minutes apart on the shared
 * machine differed by up to 2× in the same mode, pairs seconds apart share its load.
 */
const ROUNDS = Number(process.env.BENCH_TELEMETRY_ROUNDS ?? 3);
/**
 * Requests of every read, cycled, after each start and before any measurement: a fresh process
 * compiles the code it runs (with tracing on, the SDK's too) on background threads whose CPU the
 * process's utime + stime includes, which the first read measured would otherwise pay for.
 */
const WARM_UP_REQUESTS = Number(process.env.BENCH_TELEMETRY_WARM_UP ?? 2000);
/** Longer than the batch span processor's schedule (OTEL_BSP_SCHEDULE_DELAY, 5 s by default). */
const EXPORT_SETTLE_MS = 6_000;
/** The exporter's encoding; production (the ADOT sidecar) gets the SDK default, protobuf. */
const PROTOCOL = process.env.BENCH_OTLP_PROTOCOL ?? 'http/protobuf';

interface Row {
  read: string;
  viewer: 'anonymous' | 'signed in';
  off: number[];
  on: number[];
  offMs: number;
  onMs: number;
  ratio: number;
  meets: boolean;
  non2xx: number;
}

function table(rows: Row[]): string {
  const header = [
    'read',
    'viewer',
    'off ms/req (rounds)',
    'on ms/req (rounds)',
    'off median',
    'on median',
    'on ÷ off',
    `≤ ${BOUND}`,
    'non-2xx',
  ];
  const runs = (v: number[]) => v.map((n) => n.toFixed(3)).join(', ');
  const lines = rows.map((r) => [
    r.read,
    r.viewer,
    runs(r.off),
    runs(r.on),
    r.offMs.toFixed(3),
    r.onMs.toFixed(3),
    r.ratio.toFixed(2),
    r.meets ? 'yes' : 'NO',
    String(r.non2xx),
  ]);
  return markdownTable(header, lines);
}

export const telemetrySection: BenchSection = {
  name: 'telemetry',
  description:
    'Tracing overhead on the hot reads (production build, cache Redis up, seeded data): the API ' +
    'started with `--import ./dist/service/src/tracing.js` as start:service does, telemetry off ' +
    '(OTEL_SDK_DISABLED=true) vs on at 100 % sampling (OTEL_TRACES_SAMPLER=always_on, OTLP ' +
    `${PROTOCOL} to a receiver in the bench process), both running side by side on the same ` +
    `stores, each warmed up on ${WARM_UP_REQUESTS} requests of every read; ${ROUNDS} rounds, ` +
    'each read measured on both APIs back to back (off first in odd rounds, on first in even ' +
    `ones). App CPU = utime+stime over ${CPU_REQUESTS} requests ÷ 2xx answers; per mode the ` +
    'median of its rounds. ' +
    `Bound (issue 17): on ≤ ${BOUND} × off. Rate limits out of the way.`,
  async run() {
    if (!(ROUNDS >= 1)) throw new Error(`BENCH_TELEMETRY_ROUNDS must be 1 or more, got ${ROUNDS}`);
    const [stack, receiver] = await Promise.all([
      Stack.start({ env: NO_LIMITS, accessLog: false }),
      otlpReceiver(),
    ]);
    const apis: Partial<Record<'off' | 'on', AppProcess & { url: string }>> = {};
    let exported = { requests: 0, bytes: 0, spans: null as number | null };
    let rows: Row[] = [];
    try {
      const signed = { Authorization: `Token ${stack.token}` };
      const list = (await (await stack.fetch('/api/articles?limit=1')).json()) as {
        articles: { slug: string; author: { username: string } }[];
      };
      const { slug, author } = list.articles[0]!;
      const reads: { read: string; path: string }[] = [
        { read: 'GET /api/tags', path: '/api/tags' },
        { read: 'GET /api/articles?limit=20', path: '/api/articles?limit=20' },
        { read: 'GET /api/articles/{slug}', path: `/api/articles/${slug}` },
        { read: 'GET /api/articles/{slug}/comments', path: `/api/articles/${slug}/comments` },
        { read: 'GET /api/profiles/{username}', path: `/api/profiles/${author.username}` },
      ];
      rows = reads.flatMap((r) =>
        (['anonymous', 'signed in'] as const).map((viewer) => ({
          read: r.read,
          viewer,
          off: [],
          on: [],
          offMs: 0,
          onMs: 0,
          ratio: 0,
          meets: false,
          non2xx: 0,
        })),
      );
      const requestOf = (row: Row): LoadRequest => ({
        path: reads.find((x) => x.read === row.read)!.path,
        headers: row.viewer === 'signed in' ? signed : {},
      });
      const telemetryEnv = {
        off: { OTEL_SDK_DISABLED: 'true' },
        on: {
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: PROTOCOL,
          OTEL_TRACES_SAMPLER: 'always_on',
        },
      };
      await stack.api.stop();
      for (const mode of ['off', 'on'] as const) {
        const app = await stack.startApi(
          { REDIS_CACHE_URL: stack.env.REDIS_URL!, ...telemetryEnv[mode] },
          ['--import', './dist/service/src/tracing.js'],
        );
        apis[mode] = Object.assign(app, { url: stack.apiUrl });
        await load(
          stack.apiUrl,
          rows.map((row) => requestOf(row)),
          { amount: WARM_UP_REQUESTS, connections: 8 },
        );
      }
      // The warm-up's spans go out before the first measurement.
      await sleep(EXPORT_SETTLE_MS);
      const before = { ...receiver.exports, spans: receiver.spans.length };
      for (let round = 0; round < ROUNDS; round++) {
        const modes = round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
        for (const row of rows) {
          for (const mode of modes) {
            const api = apis[mode]!;
            // One run per round: the rounds' median is the figure.
            const fig = await cpuPerRequest(api.url, api.pid, [requestOf(row)], { slices: 1 });
            row[mode].push(fig.appCpuMs);
            row.non2xx += fig.non2xx;
          }
          console.log(`  round ${round + 1} of ${ROUNDS}: ${row.read} ${row.viewer}`);
        }
      }
      // Let the batch processor send what it still holds.
      await sleep(EXPORT_SETTLE_MS);
      exported = {
        requests: receiver.exports.requests - before.requests,
        bytes: receiver.exports.bytes - before.bytes,
        // Only JSON exports are decoded (BENCH_OTLP_PROTOCOL=http/json).
        spans: PROTOCOL === 'http/json' ? receiver.spans.length - before.spans : null,
      };
      if (exported.requests === 0) {
        throw new Error('telemetry on, but the receiver got no trace export');
      }
      for (const row of rows) {
        row.offMs = median(row.off);
        row.onMs = median(row.on);
        row.ratio = row.onMs / row.offMs;
        row.meets = row.ratio <= BOUND;
      }
    } finally {
      // The stack stops the API it started last (on); the other one is ours to stop.
      await apis.off?.stop('SIGKILL');
      await stack.close();
      await receiver.close();
    }
    const exportsLine =
      `${exported.requests} (${Math.round(exported.bytes / 1024)} KB` +
      `${exported.spans === null ? '' : `, ${exported.spans} spans`})`;
    const met = rows.filter((r) => r.meets).length;
    return {
      table:
        `${table(rows)}\n\nOTLP trace exports received from the traced API while measuring: ` +
        `${exportsLine}.\n` +
        `${met} of ${rows.length} reads within +${Math.round((BOUND - 1) * 100)} %.`,
      data: {
        rows,
        bound: BOUND,
        rounds: ROUNDS,
        protocol: PROTOCOL,
        cpuRequests: CPU_REQUESTS,
        exports: exported,
      },
    };
  },
};
