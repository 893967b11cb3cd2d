/**
 * A small harness for drills against the production build: a private PostgreSQL and Redis
 * (scripts/stores.sh), a migrated and seeded database, the built API and worker (`dist/`, NODE_ENV
 * production) as real processes, load from autocannon, and a table of results. Drills are named
 * functions over a {@link Stack}; scripts/drill/faults.ts holds the fault drills.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import type { MikroORM } from '@mikro-orm/postgresql';
import { ensureDatabase } from '../../service/src/db/admin.js';
import { connectOrm } from '../../service/src/db/orm.js';
import { DEMO_USER } from '../../service/src/db/seed-data.js';
import { REPO_ROOT } from '../../service/test/support/paths.js';
import { freePort } from '../../service/test/support/process.js';
import { startPrivateStore, type PrivateStore } from '../../service/test/support/stores.js';

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

/** How the API's access-log line (request-context.ts, pino puts `msg` last) ends. */
const ACCESS_LINE_END = ',"msg":"request"}';

/** One process of the built app (`dist/`), its log lines parsed as they arrive. */
export class AppProcess {
  readonly logs: LogLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  private readonly waiters: { match: string; resolve: () => void }[] = [];

  constructor(
    readonly child: ChildProcess,
    readonly name: string,
    /** Keep the access-log lines (one per request) in `logs`. @default true */
    accessLog = true,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!accessLog && line.endsWith(ACCESS_LINE_END)) return;
      let entry: LogLine;
      try {
        entry = JSON.parse(line) as LogLine;
      } catch {
        entry = { msg: line };
      }
      this.logs.push(entry);
      for (const w of this.waiters) if (String(entry.msg).startsWith(w.match)) w.resolve();
    });
    child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[${name}] ${d.toString()}`));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves at the first log line starting with `match` (also one already logged). */
  logged(match: string, timeoutMs = 60_000): Promise<void> {
    if (this.logs.some((l) => String(l.msg).startsWith(match))) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name}: no "${match}" within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        match,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  count(match: string): number {
    return this.logs.filter((l) => String(l.msg).startsWith(match)).length;
  }

  /** Resident set size in MB, from /proc. */
  rssMb(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return Math.round(kb / 1024);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    await this.exited;
  }
}

/**
 * Starts a built entry point (`dist/...`) and waits for the log line that says it is up;
 * `nodeArgs` go before the entry (e.g. `--import ./dist/service/src/tracing.js`).
 */
export async function startApp(
  name: string,
  entry: string,
  env: NodeJS.ProcessEnv,
  ready: string,
  nodeArgs: string[] = [],
  accessLog = true,
): Promise<AppProcess> {
  const child = spawn(process.execPath, [...nodeArgs, path.join(REPO_ROOT, entry)], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const app = new AppProcess(child, name, accessLog);
  try {
    await Promise.race([
      app.logged(ready),
      app.exited.then(({ code }) => {
        throw new Error(`${name} exited ${code} before "${ready}"`);
      }),
    ]);
  } catch (err) {
    // Not ready in time: no process outlives the run that started it.
    await app.stop('SIGKILL');
    throw err;
  }
  return app;
}

/** Runs a built entry point (`dist/...`) to completion; throws on a non-zero exit. */
export async function runToEnd(entry: string, env: NodeJS.ProcessEnv): Promise<void> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, entry)], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${entry} exited ${code}`);
}

export interface StackOptions {
  /** Environment for every process on top of the stack's own. */
  env?: Record<string, string>;
  /**
   * Keep the API's access-log lines in `api.logs`. Benchmarks turn it off: at thousands of
   * requests per second, parsing and keeping every line grows this process's heap by gigabytes
   * over a run, and its garbage collection then competes with the load generator and the stores
   * for their CPU. @default true
   */
  accessLog?: boolean;
}

/**
 * The system under drill: PostgreSQL and Redis of its own, a migrated and seeded database, and
 * the built API. Everything is torn down by close().
 */
export class Stack {
  api!: AppProcess;
  apiUrl = '';
  /** A seeded user's token, for authenticated reads and writes. */
  token = '';
  private constructor(
    readonly pg: PrivateStore,
    readonly redis: PrivateStore,
    readonly env: NodeJS.ProcessEnv,
    readonly orm: MikroORM,
    private readonly accessLog: boolean,
  ) {}

  static async start(options: StackOptions = {}): Promise<Stack> {
    const [pg, redis] = await Promise.all([
      startPrivateStore('postgres'),
      startPrivateStore('redis'),
    ]);
    const databaseUrl = pg.url.replace(/\/postgres$/, '/plinth_drill');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      APP_ENV: 'drill',
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      JWT_SECRET: 'drill-secret-that-is-long-enough-for-hs256-0123456789',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      // Drills run several processes (and other runs) side by side: any free metrics port.
      METRICS_PORT: '0',
      ...options.env,
    };
    await ensureDatabase(databaseUrl);
    await runToEnd('dist/service/src/db/migrate.js', env);
    await runToEnd('dist/service/src/db/seed.js', env);
    const orm = await connectOrm({
      DATABASE_URL: databaseUrl,
      DATABASE_SSL: 'disable',
      DATABASE_POOL_MAX: 2,
    });
    const stack = new Stack(pg, redis, env, orm, options.accessLog ?? true);
    await stack.startApi();
    const login = await stack.fetch('/api/users/login', {
      method: 'POST',
      body: JSON.stringify({ user: { email: DEMO_USER.email, password: DEMO_USER.password } }),
    });
    stack.token = ((await login.json()) as { user: { token: string } }).user.token;
    return stack;
  }

  /** (Re)starts the built API on a fresh port; `api` and `apiUrl` point at it. */
  async startApi(env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<AppProcess> {
    const port = await freePort();
    this.apiUrl = `http://127.0.0.1:${port}`;
    this.api = await startApp(
      'api',
      'dist/service/src/server.js',
      { ...this.env, PORT: String(port), ...env },
      'service listening',
      nodeArgs,
      this.accessLog,
    );
    return this.api;
  }

  /** The private PostgreSQL's and Redis's processes now (the bench keeps them off the API's CPU). */
  async storePids(): Promise<number[]> {
    return [...(await this.pg.pids()), ...(await this.redis.pids())];
  }

  fetch(pathname: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.apiUrl}${pathname}`, {
      ...init,
      headers: {
        'Content-Type': 'application/json',
        ...(init.headers as Record<string, string> | undefined),
      },
    });
  }

  async close(): Promise<void> {
    await this.api?.stop('SIGKILL');
    await this.orm.close(true);
    await Promise.allSettled([this.pg.remove(), this.redis.remove()]);
  }
}

/**
 * What Traffic and Writer drive: the drill stack's API or the local topology's load balancer
 * (scripts/stack/local-stack.ts): a fetch against its URL, a signed-in token, the database.
 */
export interface LoadTarget {
  fetch(pathname: string, init?: RequestInit): Promise<Response>;
  readonly token: string;
  readonly orm: MikroORM;
}

export interface LoadRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** autocannon only: rewrites each request before it is sent (e.g. a unique title). */
  setupRequest?: (req: Omit<LoadRequest, 'setupRequest'>) => Omit<LoadRequest, 'setupRequest'>;
}

export interface LoadResult {
  total: number;
  ok: number;
  /** Responses by status, plus `error` for connection errors and timeouts. */
  byStatus: Record<string, number>;
  p99Ms: number;
}

/** Drives `requests` (cycled) at `url` with autocannon for `durationMs` or `amount` requests. */
export async function load(
  url: string,
  requests: LoadRequest[],
  options: { durationMs?: number; amount?: number; connections?: number; ratePerSecond?: number },
): Promise<LoadResult> {
  const result = await autocannon({
    url,
    connections: options.connections ?? 16,
    ...(options.amount
      ? { amount: options.amount }
      : { duration: (options.durationMs ?? 5000) / 1000 }),
    ...(options.ratePerSecond ? { overallRate: options.ratePerSecond } : {}),
    timeout: 30,
    requests: requests.map((r) => ({ method: r.method ?? 'GET', ...r })),
  });
  const byStatus: Record<string, number> = {};
  for (const [status, { count }] of Object.entries(result.statusCodeStats)) {
    byStatus[status] = Number(count);
  }
  if (result.errors > 0) byStatus.error = result.errors;
  const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
  const ok = Object.entries(byStatus)
    .filter(([s]) => s.startsWith('2'))
    .reduce((a, [, n]) => a + n, 0);
  return { total, ok, byStatus, p99Ms: result.latency.p99 };
}

/** The 99th percentile of `values` (0 when empty). */
function p99(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
}

/**
 * Sends `requests` (cycled) in parallel loops with fetch until stopped. Unlike autocannon, fetch
 * honours `Connection: close` and reconnects, as a load balancer does, so this is the load for
 * drills where the server closes connections on purpose (draining).
 */
export class Traffic {
  private readonly latencies: number[] = [];
  private readonly byStatus: Record<string, number> = {};
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly stack: LoadTarget,
    private readonly requests: LoadRequest[],
  ) {}

  start(loops = 8): void {
    this.running = true;
    let next = 0;
    const count = (key: string) => (this.byStatus[key] = (this.byStatus[key] ?? 0) + 1);
    this.loops = Array.from({ length: loops }, async () => {
      while (this.running) {
        const r = this.requests[next++ % this.requests.length]!;
        const t0 = performance.now();
        try {
          const res = await this.stack.fetch(r.path, {
            method: r.method ?? 'GET',
            ...(r.headers ? { headers: r.headers } : {}),
            signal: AbortSignal.timeout(30_000),
          });
          await res.arrayBuffer();
          this.latencies.push(performance.now() - t0);
          count(String(res.status));
        } catch (err) {
          count((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name);
        }
      }
    });
  }

  async stop(): Promise<LoadResult> {
    this.running = false;
    await Promise.all(this.loops);
    const total = Object.values(this.byStatus).reduce((a, b) => a + b, 0);
    const ok = Object.entries(this.byStatus)
      .filter(([s]) => s.startsWith('2'))
      .reduce((a, [, n]) => a + n, 0);
    return { total, ok, byStatus: { ...this.byStatus }, p99Ms: Math.round(p99(this.latencies)) };
  }
}

/** What a {@link Writer} creates: the request for each write and how to find its row. */
export interface WriteKind {
  /** The request for write `n` (`unique` makes its text unique). */
  request(n: number, unique: string): { path: string; body: unknown };
  /** The status that acknowledges a write (RealWorld: 201 for an article, 200 for a comment). */
  status: number;
  /** The created record's key in the 201 answer. */
  key(answer: unknown): string;
  /** How many of `keys` are rows in the database. */
  count(orm: MikroORM, keys: string[]): Promise<number>;
}

async function countWhereIn(
  orm: MikroORM,
  sql: string,
  keys: (string | number)[],
): Promise<number> {
  if (keys.length === 0) return 0;
  const rows = await orm.em.fork().getConnection().execute(sql, [keys]);
  return (rows[0] as { n: number }).n;
}

/** Articles by the target's signed-in user (the default). */
export const ARTICLE_WRITES: WriteKind = {
  request: (_n, unique) => ({
    path: '/api/articles',
    body: { article: { title: unique, description: 'drill', body: 'drill' } },
  }),
  status: 201,
  key: (answer) => (answer as { article: { slug: string } }).article.slug,
  count: (orm, keys) =>
    countWhereIn(orm, 'select count(*)::int as n from articles where slug in (?)', keys),
};

/** Comments on `slugs` (cycled); the key is the comment's id. */
export function commentWrites(slugs: string[]): WriteKind {
  return {
    request: (n, unique) => ({
      path: `/api/articles/${slugs[n % slugs.length]!}/comments`,
      body: { comment: { body: unique } },
    }),
    status: 200,
    key: (answer) => String((answer as { comment: { id: number } }).comment.id),
    count: (orm, keys) =>
      countWhereIn(
        orm,
        'select count(*)::int as n from comments where id in (?)',
        keys.map(Number),
      ),
  };
}

export interface WriterOptions {
  /** What to write. @default ARTICLE_WRITES */
  kind?: WriteKind;
  /** Sign in with this token instead of the target's. */
  token?: string;
  /** Pause of each loop after every write (a modest write rate). @default 0 */
  pauseMs?: number;
}

/**
 * Writes (articles unless told otherwise) in `loops` parallel loops until stopped, remembering
 * which ones the API acknowledged, so a drill can check every acknowledged write is in the
 * database.
 */
export class Writer {
  /** Keys of the acknowledged writes (slugs of articles, ids of comments). */
  readonly acked: string[] = [];
  attempts = 0;
  /** Unacknowledged attempts by status code or error. */
  readonly refused: Record<string, number> = {};
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly kind: WriteKind;

  constructor(
    private readonly stack: LoadTarget,
    private readonly label: string,
    private readonly options: WriterOptions = {},
  ) {
    this.kind = options.kind ?? ARTICLE_WRITES;
  }

  start(loops = 4): void {
    this.running = true;
    let n = 0;
    this.loops = Array.from({ length: loops }, async () => {
      while (this.running) {
        n += 1;
        this.attempts += 1;
        const unique = `${this.label} write ${n} ${Math.random().toString(36).slice(2, 8)}`;
        const { path: target, body } = this.kind.request(n, unique);
        try {
          const res = await this.stack.fetch(target, {
            method: 'POST',
            headers: { Authorization: `Token ${this.options.token ?? this.stack.token}` },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(30_000),
          });
          if (res.status === this.kind.status) {
            this.acked.push(this.kind.key(await res.json()));
          } else {
            this.refused[res.status] = (this.refused[res.status] ?? 0) + 1;
            await res.arrayBuffer();
            await sleep(50);
          }
        } catch (err) {
          const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
          this.refused[cause] = (this.refused[cause] ?? 0) + 1;
          await sleep(50);
        }
        if (this.options.pauseMs) await sleep(this.options.pauseMs);
      }
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** How many acknowledged writes are rows in the database. */
  present(): Promise<number> {
    return this.kind.count(this.stack.orm, this.acked);
  }
}

export interface DrillResult {
  drill: string;
  /** Requests sent and the share answered 2xx (what counts as success is the drill's). */
  requests?: { total: number; ok: number };
  p99Ms?: { before: number; during: number };
  rssMb?: { before: number; after: number };
  writes?: { acked: number; present: number };
  notes: string[];
  /** Targets missed; empty when the drill met them. */
  failures: string[];
}

/** A named drill over a system: the drill {@link Stack}, or the local topology (drill:stack). */
export interface Drill<S = Stack> {
  name: string;
  run(stack: S): Promise<DrillResult>;
}

/** Anonymous and token reads over seeded data. */
export async function readMix(target: LoadTarget): Promise<LoadRequest[]> {
  const [row] = await target.orm.em
    .fork()
    .getConnection()
    .execute<{ slug: string; username: string }[]>(
      'select a.slug, u.username from articles a join users u on u.id = a.author_id limit 1',
    );
  const auth = { Authorization: `Token ${target.token}` };
  return [
    { path: '/api/articles?limit=10' },
    { path: '/api/tags' },
    { path: `/api/articles/${row!.slug}` },
    { path: `/api/profiles/${row!.username}` },
    { path: '/api/user', headers: auth },
    { path: '/api/articles/feed?limit=10', headers: auth },
  ];
}

const pct = (ok: number, total: number) =>
  total === 0 ? 'n/a' : `${((100 * ok) / total).toFixed(ok === total ? 0 : 2)}%`;

/** The results as a Markdown table. */
export function table(results: DrillResult[]): string {
  const rows = [
    [
      'drill',
      'requests',
      'success',
      'p99 ms (normal → during)',
      'RSS MB (before → after)',
      'acked writes / rows',
      'result',
      'notes',
    ],
    ...results.map((r) => [
      r.drill,
      r.requests ? String(r.requests.total) : '',
      r.requests ? pct(r.requests.ok, r.requests.total) : '',
      r.p99Ms ? `${r.p99Ms.before} → ${r.p99Ms.during}` : '',
      r.rssMb ? `${r.rssMb.before} → ${r.rssMb.after}` : '',
      r.writes ? `${r.writes.acked} / ${r.writes.present}` : '',
      r.failures.length ? `MISSED: ${r.failures.join('; ')}` : 'ok',
      r.notes.join('; '),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(rows[0]!), line(widths.map((w) => '-'.repeat(w))), ...rows.slice(1).map(line)].join(
    '\n',
  );
}
