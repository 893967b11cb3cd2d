/**
 * Measuring tools for `npm run bench`: a process's own CPU time (utime + stime from /proc, the
 * figure machine noise barely moves; docs in ../shared/design/toolchain-notes.md), the PostgreSQL
 * backends that serve a process's pool, and a bare Koa JSON endpoint as the yardstick.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MikroORM } from '@mikro-orm/postgresql';
import { REPO_ROOT } from '../../service/test/support/paths.js';
import { freePort } from '../../service/test/support/process.js';
import { AppProcess, type LoadRequest } from '../drill/harness.js';

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** utime + stime of `pid` in milliseconds (0 once it is gone). */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/** Local TCP ports of the sockets `pid` holds open (IPv4 and IPv6). */
function localPortsOf(pid: number): Set<number> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && inodes.has(cols[9]!)) {
        ports.add(parseInt(cols[1]!.split(':')[1]!, 16));
      }
    }
  }
  return ports;
}

/**
 * The PostgreSQL backends serving `appPid`'s pool: the rows of pg_stat_activity whose client port
 * is one of the app's own sockets.
 */
export async function backendsOf(orm: MikroORM, appPid: number): Promise<number[]> {
  const ports = localPortsOf(appPid);
  const rows = await orm.em
    .fork()
    .getConnection()
    .execute<{ pid: number; client_port: number }[]>(
      "select pid, client_port from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()",
    );
  return rows.filter((r) => ports.has(r.client_port)).map((r) => r.pid);
}

/** CPU of a set of processes, read before and after some work. */
export class CpuMeter {
  private readonly start = new Map<number, number>();
  constructor(pids: number[]) {
    for (const pid of pids) this.start.set(pid, cpuMs(pid));
  }
  /** Milliseconds spent since construction by the processes (and `later` ones, in full). */
  spent(later: number[] = []): number {
    let total = 0;
    for (const [pid, before] of this.start) total += Math.max(0, cpuMs(pid) - before);
    for (const pid of later) if (!this.start.has(pid)) total += cpuMs(pid);
    return total;
  }
}

/** A bare Koa app answering `{"ok":true}` on every request: the yardstick of every ratio. */
export async function startBareKoa(): Promise<{ app: AppProcess; url: string }> {
  const port = await freePort();
  const source = `
    import Koa from 'koa';
    const app = new Koa();
    app.use((ctx) => { ctx.body = { ok: true }; });
    app.listen(${port}, '127.0.0.1', () => console.log('bare listening'));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const app = new AppProcess(child, 'bare-koa');
  await app.logged('bare listening', 30_000);
  await sleep(100);
  return { app, url: `http://127.0.0.1:${port}` };
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
}

/**
 * Open-loop load at a fixed arrival rate: request i is scheduled at `i / ratePerSecond` seconds
 * and sent then on a free keep-alive connection (a new one if all are busy, up to
 * `maxConnections`), whatever the earlier ones are doing; latency counts from the scheduled time,
 * so a server that stalls is charged for the requests that queue behind the stall (no
 * coordinated omission, as wrk2). autocannon's `overallRate` is not this: each connection sends
 * back to back until its share of the second is spent, then waits for the next second, so the
 * second's requests arrive as a burst at full concurrency and p99 measures that burst's queue.
 */
export async function atFixedRate(
  url: string,
  requests: LoadRequest[],
  options: { ratePerSecond: number; durationMs: number; maxConnections?: number },
): Promise<FixedRateResult> {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxConnections ?? 64 });
  const total = Math.max(1, Math.round((options.ratePerSecond * options.durationMs) / 1000));
  const intervalMs = 1000 / options.ratePerSecond;
  const fromScheduled: number[] = [];
  const fromSent: number[] = [];
  const byStatus: Record<string, number> = {};
  const count = (key: string) => (byStatus[key] = (byStatus[key] ?? 0) + 1);
  let late = 0;
  const inFlight: Promise<void>[] = [];
  const send = (r: LoadRequest, scheduled: number) =>
    new Promise<void>((resolve) => {
      const sent = performance.now();
      if (sent - scheduled > 1) late += 1;
      const req = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          method: r.method ?? 'GET',
          path: r.path,
          headers: r.headers ?? {},
          timeout: 30_000,
        },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => {
            const done = performance.now();
            fromScheduled.push(done - scheduled);
            fromSent.push(done - sent);
            count(String(res.statusCode));
            resolve();
          });
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        count(err.code ?? 'error');
        resolve();
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end(r.body);
    });
  const start = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
      for (; next < due; next++) {
        inFlight.push(send(requests[next % requests.length]!, start + next * intervalMs));
      }
      if (next >= total) return resolve();
      setTimeout(tick, Math.max(0, start + next * intervalMs - performance.now()));
    };
    tick();
  });
  await Promise.all(inFlight);
  agent.destroy();
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
  };
}

/** The `q` quantile of `values` (nearest rank; 0 when empty), rounded to 0.1 ms. */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const v = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * q) - 1)]!;
  return Math.round(v * 10) / 10;
}

/** A number with `digits` decimals, or `n/a`. */
export const fmt = (n: number | null, digits = 3) => (n === null ? 'n/a' : n.toFixed(digits));

/** A Markdown table with padded columns: `header`, then one row of cells per line. */
export function markdownTable(header: string[], lines: string[][]): string {
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((l) => l[i]!.length)));
  const line = (l: string[]) => `| ${l.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...lines.map(line)].join('\n');
}
