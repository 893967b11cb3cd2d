/**
 * The open-loop load generator of `npm run bench` (wrk2's model), run as a process of its own by
 * `atFixedRate` (measure.ts): the bench process also parses every log line of the servers it
 * starts and drives autocannon, and its pauses (garbage collection, a burst of log lines) would
 * otherwise be counted as the server's latency. As a script it reads one job as JSON on stdin
 * (`{ url, requests, options }`), runs one uncounted second at the rate (its own warm-up), then
 * the job, and writes its FixedRateResult as JSON on stdout.
 */
import { Pool, type Dispatcher } from 'undici';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

/** A request of the load; the same shape as the drill harness's LoadRequest (strings only). */
export interface FixedRateRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface FixedRateOptions {
  ratePerSecond: number;
  durationMs: number;
  maxConnections?: number;
}

/** What a fixed-arrival-rate run saw. */
export interface FixedRateResult {
  total: number;
  ok: number;
  byStatus: Record<string, number>;
  /** 99th percentile of the latency from each request's scheduled send to its full response. */
  p99Ms: number;
  /** The same from the moment the request was actually written (the generator's own lag left out). */
  p99SentMs: number;
  /** Requests sent later than 1 ms after their scheduled time (the generator could not keep up). */
  late: number;
  /**
   * The generator's own event-loop delay, max and p99 (ms): a stall of the generator delays the
   * responses it reads as much as one of the server, and both p99s above count it.
   */
  generatorDelayMaxMs: number;
  generatorDelayP99Ms: number;
}

/**
 * Open-loop load at a fixed arrival rate, in this process (atFixedRate in measure.ts runs it in a
 * process of its own): request i is scheduled at `i / ratePerSecond` seconds
 * and sent then on a free keep-alive connection (a new one if all are busy, up to
 * `maxConnections`), whatever the earlier ones are doing; through undici's low-level `dispatch`
 * (no stream or promise per request), a fraction of `node:http`'s client cost per request, so
 * the generator keeps its schedule at the rates a cheap read reaches (measured: a bare endpoint
 * at 16,000 requests/s, p99 3.7 ms against 12.3 ms with `http.request`); latency counts from
 * the scheduled time, so a server that stalls is charged for the requests that queue behind the
 * stall (no coordinated omission, as wrk2). autocannon's `overallRate` is not this: each connection sends
 * back to back until its share of the second is spent, then waits for the next second, so the
 * second's requests arrive as a burst at full concurrency and p99 measures that burst's queue.
 */
export async function runFixedRate(
  url: string,
  requests: FixedRateRequest[],
  options: FixedRateOptions,
): Promise<FixedRateResult> {
  const pool = new Pool(new URL(url).origin, {
    connections: options.maxConnections ?? 64,
    pipelining: 1,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const total = Math.max(1, Math.round((options.ratePerSecond * options.durationMs) / 1000));
  const intervalMs = 1000 / options.ratePerSecond;
  const fromScheduled: number[] = [];
  const fromSent: number[] = [];
  const byStatus: Record<string, number> = {};
  const count = (key: string) => (byStatus[key] = (byStatus[key] ?? 0) + 1);
  let late = 0;
  let pending = 0;
  let allSent = false;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const settle = () => {
    pending -= 1;
    if (allSent && pending === 0) finished();
  };
  const send = (r: FixedRateRequest, scheduled: number) => {
    const sent = performance.now();
    if (sent - scheduled > 1) late += 1;
    pending += 1;
    let status = 0;
    pool.dispatch(
      {
        method: (r.method ?? 'GET') as Dispatcher.HttpMethod,
        path: r.path,
        headers: r.headers,
        body: r.body,
      },
      {
        onRequestStart: () => {},
        onResponseStart: (_c, statusCode) => {
          status = statusCode;
        },
        onResponseData: () => {},
        onResponseEnd: () => {
          const t = performance.now();
          fromScheduled.push(t - scheduled);
          fromSent.push(t - sent);
          count(String(status));
          settle();
        },
        onResponseError: (_c, err: NodeJS.ErrnoException) => {
          count(err.code ?? 'error');
          settle();
        },
      },
    );
  };
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const start = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
      for (; next < due; next++) send(requests[next % requests.length]!, start + next * intervalMs);
      if (next >= total) return resolve();
      setTimeout(tick, Math.max(0, start + next * intervalMs - performance.now()));
    };
    tick();
  });
  allSent = true;
  if (pending > 0) await done;
  loopDelay.disable();
  await pool.close();
  const ok = Object.entries(byStatus)
    .filter(([s]) => s.startsWith('2'))
    .reduce((a, [, n]) => a + n, 0);
  return {
    total: Object.values(byStatus).reduce((a, b) => a + b, 0),
    ok,
    byStatus,
    p99Ms: percentile(fromScheduled, 0.99),
    p99SentMs: percentile(fromSent, 0.99),
    late,
    generatorDelayMaxMs: Math.round(loopDelay.max / 1e5) / 10,
    generatorDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e5) / 10,
  };
}

/** The `q` quantile of `values` (nearest rank; 0 when empty), rounded to 0.1 ms. */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const v = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * q) - 1)]!;
  return Math.round(v * 10) / 10;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let input = '';
  for await (const chunk of process.stdin) input += String(chunk);
  const job = JSON.parse(input) as {
    url: string;
    requests: FixedRateRequest[];
    options: FixedRateOptions;
  };
  // One second at the rate first, not counted: the generator's own code is compiled by then.
  await runFixedRate(job.url, job.requests, { ...job.options, durationMs: 1000 });
  const result = await runFixedRate(job.url, job.requests, job.options);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
