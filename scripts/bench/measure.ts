/**
 * Measuring tools for `npm run bench`: a process's own CPU time (utime + stime from /proc, the
 * figure machine noise barely moves; docs in ../shared/design/toolchain-notes.md), the PostgreSQL
 * backends that serve a process's pool, and a bare Koa JSON endpoint as the yardstick.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MikroORM } from '@mikro-orm/postgresql';
import { REPO_ROOT } from '../../service/test/support/paths.js';
import { freePort } from '../../service/test/support/process.js';
import { AppProcess, type LoadRequest } from '../drill/harness.js';
import type { FixedRateOptions, FixedRateResult } from './fixed-rate.js';

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

/**
 * CPUs for `isolated`: with two or more and `taskset` installed, the server under test gets CPU 0
 * to itself and the load (this process, autocannon, the fixed-rate generator) the others. Off with
 * BENCH_PIN=0 or on a single CPU.
 */
const CPUS = availableParallelism();
export const PINNED = process.env.BENCH_PIN !== '0' && CPUS >= 2 && existsSync('/usr/bin/taskset');

function setAffinity(pid: number, cpus: string): void {
  execFileSync('taskset', ['--all-tasks', '--pid', '--cpu-list', cpus, String(pid)], {
    stdio: 'ignore',
  });
}

/**
 * Runs `work` with the server `serverPid` alone on CPU 0 and this process (and the processes it
 * starts meanwhile) and the server's stores (`stores`: the private PostgreSQL's and Redis's
 * processes, asked again at the end for backends forked meanwhile) on the other CPUs, then gives
 * all of them every CPU back. In production the load balancer, the clients, RDS and ElastiCache
 * are other machines; on a small shared machine the load generator and the stores would
 * otherwise take CPU time from the server they measure, and its latency would be the scheduler's
 * (a signed-in read, whose PostgreSQL backends the scheduler put on the server's CPU: p99 of
 * 45–60 ms at half capacity with its CPU 100 % busy). No-op unless PINNED.
 */
export async function isolated<T>(
  serverPid: number,
  work: () => Promise<T>,
  stores: () => Promise<number[]> = async () => [],
): Promise<T> {
  if (!PINNED) return work();
  const all = `0-${CPUS - 1}`;
  const others = `1-${CPUS - 1}`;
  setAffinity(serverPid, '0');
  for (const pid of [process.pid, ...(await stores())]) trySetAffinity(pid, others);
  try {
    return await work();
  } finally {
    for (const pid of [process.pid, serverPid, ...(await stores())]) trySetAffinity(pid, all);
  }
}

/** setAffinity for a process that may have exited meanwhile (a PostgreSQL backend, the server). */
function trySetAffinity(pid: number, cpus: string): void {
  try {
    setAffinity(pid, cpus);
  } catch {
    // gone
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

/**
 * Open-loop load at a fixed arrival rate (fixed-rate.ts), generated by a process of its own so
 * that nothing this process does (parsing the servers' log lines, its garbage collection) is
 * counted as latency of the server under test. Bodies must be strings.
 */
export async function atFixedRate(
  url: string,
  requests: LoadRequest[],
  options: FixedRateOptions,
): Promise<FixedRateResult> {
  const job = {
    url,
    options,
    requests: requests.map(({ method, path, headers, body }) => {
      if (body !== undefined && typeof body !== 'string') {
        throw new Error('atFixedRate: request bodies must be strings');
      }
      return { method, path, headers, body };
    }),
  };
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'scripts/bench/fixed-rate.ts')],
    { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin.end(JSON.stringify(job));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`fixed-rate generator exited ${code}`);
  return JSON.parse(out) as FixedRateResult;
}

/**
 * What the host is, for comparing runs across machines: the CPU model, how many CPUs, and whether
 * system calls flush the TLB (Meltdown's page-table isolation on a CPU without PCID): on such a
 * host every socket read and write also costs the process the TLB misses that follow, which
 * weighs on a server with a large working set far more than on the bare endpoint (stop 26, on
 * such a host: the cached reads at 2–3× the multiples of the bare endpoint measured on stop 23's;
 * docs/read-path.md, "Why the multiples differ by host").
 */
export function hostFacts(): { cpu: string; cpus: number; ptiWithoutPcid: boolean } {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? '').split(' '));
  return {
    cpu: /^model name\s*:\s*(.*)$/m.exec(info)?.[1] ?? 'unknown',
    cpus: CPUS,
    ptiWithoutPcid: flags.has('pti') && !flags.has('pcid'),
  };
}

/** The median of `values` (NaN when empty). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
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
