/**
 * The `telemetry` section: what tracing costs the hot reads. The production build runs as
 * `start:service` runs it (`node --import ./dist/service/src/tracing.js`), alternately with
 * telemetry off (OTEL_SDK_DISABLED=true) and on at 100 % sampling (OTEL_TRACES_SAMPLER=always_on)
 * exporting OTLP/HTTP to a receiver in this process; per read, the app's CPU per 2xx answer off
 * and on (median of the runs of each mode, runs interleaved against machine drift) and the ratio
 * against the bound of issue 17: at most +15 %. Prometheus metrics are on in both modes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { otlpReceiver } from '../../service/test/support/otlp.js';
import { Stack, type LoadRequest } from '../drill/harness.js';
import type { BenchSection } from './index.js';
import { markdownTable } from './measure.js';
import { CPU_REQUESTS, cpuPerRequest, NO_LIMITS } from './reads.js';

/** The most that tracing at 100 % sampling may add to a hot read's CPU per request. */
const BOUND = 1.15;
/** Runs in order; interleaved so that drift of the shared machine hits both modes alike. */
const ORDER = (process.env.BENCH_TELEMETRY_ORDER ?? 'off,on,on,off').split(',') as ('off' | 'on')[];
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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function table(rows: Row[]): string {
  const header = [
    'read',
    'viewer',
    'off ms/req (runs)',
    'on ms/req (runs)',
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
    `${PROTOCOL} to a receiver in the bench process), runs in the order ${ORDER.join(', ')}. ` +
    `App CPU = utime+stime over ${CPU_REQUESTS} requests ÷ 2xx answers; per mode the median of ` +
    `its runs. Bound (issue 17): on ≤ ${BOUND} × off. Rate limits out of the way.`,
  async run() {
    if (
      !ORDER.includes('off') ||
      !ORDER.includes('on') ||
      ORDER.some((m) => m !== 'off' && m !== 'on')
    ) {
      throw new Error(
        `BENCH_TELEMETRY_ORDER needs runs of both off and on, got ${ORDER.join(',')}`,
      );
    }
    const [stack, receiver] = await Promise.all([Stack.start({ env: NO_LIMITS }), otlpReceiver()]);
    const exportsByRun: {
      mode: 'off' | 'on';
      requests: number;
      bytes: number;
      spans: number | null;
    }[] = [];
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
      const telemetryEnv = {
        off: { OTEL_SDK_DISABLED: 'true' },
        on: {
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: PROTOCOL,
          OTEL_TRACES_SAMPLER: 'always_on',
        },
      };
      for (const [run, mode] of ORDER.entries()) {
        await stack.api.stop();
        await stack.startApi({ REDIS_CACHE_URL: stack.env.REDIS_URL!, ...telemetryEnv[mode] }, [
          '--import',
          './dist/service/src/tracing.js',
        ]);
        await sleep(500);
        const before = { ...receiver.exports, spans: receiver.spans.length };
        for (const row of rows) {
          const r = reads.find((x) => x.read === row.read)!;
          const request: LoadRequest = {
            path: r.path,
            headers: row.viewer === 'signed in' ? signed : {},
          };
          const fig = await cpuPerRequest(stack.apiUrl, stack.api.pid, [request]);
          row[mode].push(fig.appCpuMs);
          row.non2xx += fig.non2xx;
          console.log(`  run ${run + 1} (${mode}) ${row.read} ${row.viewer}`);
        }
        // Let the batch processor send what it still holds before the process goes.
        if (mode === 'on') await sleep(6_000);
        const sent = {
          mode,
          requests: receiver.exports.requests - before.requests,
          bytes: receiver.exports.bytes - before.bytes,
          // Only JSON exports are decoded (BENCH_OTLP_PROTOCOL=http/json).
          spans: PROTOCOL === 'http/json' ? receiver.spans.length - before.spans : null,
        };
        exportsByRun.push(sent);
        if (mode === 'on' && sent.requests === 0) {
          throw new Error('telemetry on, but the receiver got no trace export');
        }
        if (mode === 'off' && sent.requests > 0) {
          throw new Error('telemetry off, but the receiver got trace exports');
        }
      }
      for (const row of rows) {
        row.offMs = median(row.off);
        row.onMs = median(row.on);
        row.ratio = row.onMs / row.offMs;
        row.meets = row.ratio <= BOUND;
      }
    } finally {
      await stack.close();
      await receiver.close();
    }
    const exportsLine = exportsByRun
      .map(
        (e, i) =>
          `run ${i + 1} ${e.mode}: ${e.requests} (${Math.round(e.bytes / 1024)} KB` +
          `${e.spans === null ? '' : `, ${e.spans} spans`})`,
      )
      .join('; ');
    const met = rows.filter((r) => r.meets).length;
    return {
      table:
        `${table(rows)}\n\nOTLP trace exports received per run: ${exportsLine}.\n` +
        `${met} of ${rows.length} reads within +${Math.round((BOUND - 1) * 100)} %.`,
      data: {
        rows,
        bound: BOUND,
        order: ORDER,
        protocol: PROTOCOL,
        cpuRequests: CPU_REQUESTS,
        exports: exportsByRun,
      },
    };
  },
};
