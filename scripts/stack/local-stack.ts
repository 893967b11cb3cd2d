/**
 * The production-like local topology (`npm run stack:local`, its drills, `npm run bench:scale`
 * and the rolling-restart test): HAProxy on loopback in front of N API processes (health checks
 * on /health/ready), the worker, a PostgreSQL primary with a streaming replica and a Redis of
 * their own (scripts/stores.sh), all in one state directory. Every process it starts is recorded
 * in `<dir>/state.json` (pid, port, log), so `stack:local:down` stops exactly those. See
 * docs/operations.md, "Local topology".
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { MikroORM } from '@mikro-orm/postgresql';
import { ensureDatabase } from '../../service/src/db/admin.js';
import { connectOrm } from '../../service/src/db/orm.js';
import { DEMO_USER } from '../../service/src/db/seed-data.js';
import { REPO_ROOT } from '../../service/test/support/paths.js';
import { distinctPorts, freePort } from '../../service/test/support/process.js';
import { parseEnv, stores } from '../../service/test/support/stores.js';

const exec = promisify(execFile);
const HOST = '127.0.0.1';

/** Where the processes' code comes from: the production build, or the sources through tsx. */
export type Runner = 'dist' | 'source';

export interface LocalStackOptions {
  /** State directory (pids, ports, logs, store data); `.local/stack` for the CLI. */
  dir: string;
  /** Number of API processes behind HAProxy. */
  apis: number;
  /** HAProxy's port; a free one when 0 or absent. */
  port?: number;
  /** First API port (the others follow); free ones when 0 or absent. */
  apiPort?: number;
  /** Default `dist` (run `npm run build` first). */
  runner?: Runner;
  /**
   * Use these servers instead of starting a private primary + replica and Redis (the test uses
   * the shared ones, with a database and key prefix of its own). No replica then.
   */
  stores?: { databaseUrl: string; redisUrl: string };
  /** Seed the demo data (default true). */
  seed?: boolean;
  /** Start the worker (default true). */
  worker?: boolean;
  /** Processes outlive this one (the CLI); otherwise they are its children (drills, tests). */
  detached?: boolean;
  /** Environment for every process on top of the stack's own. */
  env?: Record<string, string>;
  /** Progress lines. */
  progress?: (line: string) => void;
}

export interface ProcessRecord {
  name: string;
  pid: number;
  port?: number;
  log: string;
  entry: string;
}

/** What `state.json` holds: enough for `down` and for drills attaching to a running stack. */
export interface StackState {
  dir: string;
  url: string;
  haproxy: { port: number; pid: number; config: string; socket: string; log: string };
  apis: ProcessRecord[];
  worker?: ProcessRecord;
  /** Private stores: the stores.sh directories (a replica set and a Redis). */
  stores?: { replicaSet: string; redis: string };
  env: Record<string, string>;
}

/** A failure while bringing a part up: names the part and its log. */
export class StackError extends Error {
  constructor(
    readonly part: string,
    readonly log: string | undefined,
    message: string,
  ) {
    super(`${part}: ${message}${log ? ` (log: ${log})` : ''}`);
  }
}

/** The path of haproxy, installed with apt-get when missing (scripts/ensure-haproxy.sh). */
export async function ensureHaproxy(): Promise<string> {
  try {
    const { stdout } = await exec('bash', [path.join(REPO_ROOT, 'scripts/ensure-haproxy.sh')]);
    return stdout.trim();
  } catch (err) {
    throw new StackError('haproxy', undefined, (err as { stderr?: string }).stderr ?? String(err));
  }
}

/** True when `pid` runs and its command line contains `marker` (a recycled pid is not ours). */
export function isOurs(pid: number | undefined, marker: string): boolean {
  if (!pid) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(marker);
  } catch {
    return false;
  }
}

/** Waits until `pid` is gone (not a child: polls /proc). */
async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (existsSync(`/proc/${pid}`)) {
    // A zombie child of ours is gone for every purpose here.
    try {
      if (/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))) return true;
    } catch {
      return true;
    }
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** One row of HAProxy's `show stat` for a server. */
export interface ServerStat {
  name: string;
  status: string;
  /** Requests (sessions) sent to it since HAProxy started. */
  total: number;
}

/** One API process: its record, and its ChildProcess when this process started it. */
export interface ApiProcess extends ProcessRecord {
  port: number;
  child?: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The running topology. */
export class LocalStack {
  apis: ApiProcess[] = [];
  worker?: ApiProcess;
  /** A demo user's token (seeded, or registered when not seeding). */
  token = '';
  orm!: MikroORM;
  private constructor(
    readonly options: LocalStackOptions,
    readonly state: StackState,
  ) {}

  get url(): string {
    return this.state.url;
  }

  private say(line: string) {
    this.options.progress?.(line);
  }

  private logFile(name: string) {
    return path.join(this.state.dir, 'logs', `${name}.log`);
  }

  /** Starts everything; on failure stops what it started and throws a {@link StackError}. */
  static async start(options: LocalStackOptions): Promise<LocalStack> {
    const dir = path.resolve(options.dir);
    const stateFile = path.join(dir, 'state.json');
    if (existsSync(stateFile)) {
      const old = JSON.parse(await readFile(stateFile, 'utf8')) as StackState;
      if (
        isOurs(old.haproxy.pid, old.haproxy.config) ||
        old.apis.some((a) => isOurs(a.pid, a.entry))
      )
        throw new StackError(
          'stack',
          undefined,
          `already running from ${dir} (${old.url}); stop it first with npm run stack:local:down`,
        );
    }
    // Logs of this run only (the stores are fresh too).
    await rm(path.join(dir, 'logs'), { recursive: true, force: true });
    await mkdir(path.join(dir, 'logs'), { recursive: true });
    // The postgres user runs PostgreSQL when we are root: it must reach the store directories.
    await chmod(dir, 0o755);
    const state: StackState = {
      dir,
      url: '',
      haproxy: {
        port: options.port || (await freePort()),
        pid: 0,
        config: path.join(dir, 'haproxy.cfg'),
        socket: path.join(dir, 'haproxy.sock'),
        log: path.join(dir, 'logs', 'haproxy.log'),
      },
      apis: [],
      env: {},
    };
    state.url = `http://${HOST}:${state.haproxy.port}`;
    const stack = new LocalStack(options, state);
    try {
      await stack.bringUp();
    } catch (err) {
      await stack.stop().catch(() => undefined);
      throw err;
    }
    return stack;
  }

  private async save() {
    await writeFile(path.join(this.state.dir, 'state.json'), JSON.stringify(this.state, null, 2));
  }

  private async bringUp() {
    const { options, state } = this;
    const haproxy = await ensureHaproxy();
    this.say(`haproxy: ${haproxy}`);
    let databaseUrl: string;
    let redisUrl: string;
    let replicaUrls: string | undefined;
    if (options.stores) {
      ({ databaseUrl, redisUrl } = options.stores);
    } else {
      const replicaSet = path.join(state.dir, 'pg');
      const redisDir = path.join(state.dir, 'redis');
      state.stores = { replicaSet, redis: redisDir };
      await this.save();
      // Fresh stores every time (a replica's base backup names its primary's port): stop any
      // left from a run that never got to `down` (stores.sh finds them by directory alone).
      await stores('redis', 'stop', redisDir).catch(() => undefined);
      await stores('replica-set', 'stop', replicaSet).catch(() => undefined);
      await rm(replicaSet, { recursive: true, force: true });
      await rm(redisDir, { recursive: true, force: true });
      const [primaryPort, replicaPort, redisPort] = await distinctPorts(3);
      this.say(`postgres: primary on ${primaryPort}, streaming replica on ${replicaPort}…`);
      await stores(
        'replica-set',
        'start',
        replicaSet,
        String(primaryPort),
        String(replicaPort),
      ).catch((err: { stderr?: string }) => {
        throw new StackError(
          'postgres',
          path.join(replicaSet, 'primary/postgres.log'),
          err.stderr ?? '',
        );
      });
      const env = parseEnv(await stores('replica-set', 'env', replicaSet));
      databaseUrl = env.DATABASE_URL!.replace(/\/postgres$/, '/plinth');
      replicaUrls = env.DATABASE_REPLICA_URLS!.replace(/\/postgres$/, '/plinth');
      this.say(`redis: on ${redisPort}…`);
      await stores('redis', 'start', redisDir, String(redisPort)).catch(
        (err: { stderr?: string }) => {
          throw new StackError('redis', path.join(redisDir, 'redis.log'), err.stderr ?? '');
        },
      );
      redisUrl = `redis://${HOST}:${redisPort}`;
    }
    state.env = {
      NODE_ENV: 'production',
      APP_ENV: 'local-stack',
      HOST,
      DATABASE_URL: databaseUrl,
      ...(replicaUrls ? { DATABASE_REPLICA_URLS: replicaUrls } : {}),
      REDIS_URL: redisUrl,
      JWT_SECRET: 'local-stack-secret-that-is-long-enough-for-hs256-0123',
      LOG_LEVEL: 'info',
      ...options.env,
    };
    await this.save();

    this.say('database: migrate' + (options.seed === false ? '' : ' + seed') + '…');
    await ensureDatabase(databaseUrl);
    await this.runToEnd('migrate', 'service/src/db/migrate');
    if (options.seed !== false) await this.runToEnd('seed', 'service/src/db/seed');
    if (replicaUrls && state.stores) {
      // The replica has the schema and data before any API routes a read to it.
      const replicaDir = path.join(state.stores.replicaSet, 'replica');
      await stores('replica', 'sync', replicaDir).catch((err: { stderr?: string }) => {
        throw new StackError('replica', path.join(replicaDir, 'postgres.log'), err.stderr ?? '');
      });
    }
    this.orm = await connectOrm({
      DATABASE_URL: databaseUrl,
      DATABASE_SSL: 'disable',
      DATABASE_POOL_MAX: 2,
    });

    const ports = options.apiPort
      ? Array.from({ length: options.apis }, (_, i) => options.apiPort! + i)
      : await distinctPorts(options.apis, [state.haproxy.port]);
    this.say(`api: ${options.apis} process(es) on ${ports.join(', ')}…`);
    this.apis = await Promise.all(ports.map((port, i) => this.startApi(i, port)));
    state.apis = this.apis.map(record);
    await this.save();

    if (options.worker !== false) {
      this.say('worker…');
      this.worker = this.launch('worker', 'worker/src/main', {});
      state.worker = record(this.worker);
      await this.save();
      await this.waitForLog(this.worker, '"worker ready"');
    }

    this.say(`haproxy: on ${state.haproxy.port}…`);
    await writeFile(state.haproxy.config, haproxyConfig(state));
    await exec(haproxy, ['-c', '-q', '-f', state.haproxy.config]).catch(
      (err: { stderr?: string }) => {
        throw new StackError(
          'haproxy',
          state.haproxy.config,
          `invalid configuration: ${err.stderr}`,
        );
      },
    );
    const pidFile = path.join(state.dir, 'haproxy.pid');
    await rm(pidFile, { force: true });
    // -D: a daemon that writes its pid to -p; start-up errors come on stderr, saved in its log.
    await exec(haproxy, ['-D', '-p', pidFile, '-f', state.haproxy.config]).catch(
      async (err: { stderr?: string }) => {
        await writeFile(state.haproxy.log, err.stderr ?? '');
        throw new StackError('haproxy', state.haproxy.log, 'did not start');
      },
    );
    state.haproxy.pid = Number((await readFile(pidFile, 'utf8')).trim().split('\n')[0]);
    await this.save();
    await this.waitUntil('haproxy', state.haproxy.log, 20_000, async () => {
      const servers = await this.serverStats().catch(() => []);
      return servers.length === this.apis.length && servers.every((s) => s.status === 'UP');
    });

    if (options.seed === false) {
      this.token = await registerUser(this.url);
    } else {
      const login = await fetch(`${this.url}/api/users/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ user: { email: DEMO_USER.email, password: DEMO_USER.password } }),
      });
      if (login.status !== 200)
        throw new StackError(
          'api',
          this.apis[0]?.log,
          `demo login through haproxy answered ${login.status}`,
        );
      this.token = ((await login.json()) as { user: { token: string } }).user.token;
    }
  }

  private entryArgs(entry: string): string[] {
    return this.options.runner === 'source'
      ? ['--import', 'tsx', path.join(REPO_ROOT, `${entry}.ts`)]
      : [path.join(REPO_ROOT, 'dist', `${entry}.js`)];
  }

  /** Spawns a built entry point with its output appended to logs/<name>.log. */
  private launch(
    name: string,
    entry: string,
    env: Record<string, string>,
    port?: number,
    oneShot = false,
  ): ApiProcess {
    const detached = !oneShot && (this.options.detached ?? false);
    const log = this.logFile(name);
    const out = openSync(log, 'a');
    const args = this.entryArgs(entry);
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      // Every process serves /metrics on a port of its own (logged), never the shared default.
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        METRICS_PORT: '0',
        ...this.state.env,
        ...env,
      },
      stdio: ['ignore', out, out],
      detached,
    });
    closeSync(out);
    // A detached process outlives this one; until then its exit is still reported here.
    if (detached) child.unref();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    return {
      name,
      pid: child.pid!,
      ...(port ? { port } : {}),
      log,
      entry: args.at(-1)!,
      child,
      exited,
    } as ApiProcess;
  }

  private async runToEnd(name: string, entry: string) {
    const p = this.launch(name, entry, {}, undefined, true);
    const { code } = await p.exited;
    if (code !== 0) throw new StackError(name, p.log, `exited ${code}`);
  }

  private async waitUntil(
    part: string,
    log: string | undefined,
    timeoutMs: number,
    ok: () => Promise<boolean>,
    exited?: Promise<unknown>,
  ) {
    let dead = false;
    void exited?.then(() => (dead = true));
    const deadline = Date.now() + timeoutMs;
    while (!(await ok())) {
      if (dead) throw new StackError(part, log, 'exited while starting');
      if (Date.now() > deadline)
        throw new StackError(part, log, `not ready within ${timeoutMs / 1000} s`);
      await sleep(100);
    }
  }

  private waitForLog(p: ApiProcess, text: string, timeoutMs = 60_000) {
    return this.waitUntil(
      p.name,
      p.log,
      timeoutMs,
      async () => (await readFile(p.log, 'utf8')).includes(text),
      p.exited,
    );
  }

  /** Starts API process `i` on `port` and waits until it answers ready. */
  async startApi(i: number, port: number): Promise<ApiProcess> {
    const api = this.launch(`api${i + 1}`, 'service/src/server', { PORT: String(port) }, port);
    await this.waitUntil(
      api.name,
      api.log,
      60_000,
      async () => {
        const res = await fetch(`http://${HOST}:${port}/health/ready`).catch(() => undefined);
        return res?.status === 200;
      },
      api.exited,
    );
    return api;
  }

  /**
   * SIGTERMs API process `i`, waits for its exit, starts a new one on the same port and waits
   * until HAProxy sees it UP. Returns the old process's exit.
   */
  async restartApi(i: number, stopTimeoutMs = 60_000) {
    const old = this.apis[i]!;
    const signalled = Date.now();
    process.kill(old.pid, 'SIGTERM');
    const exit = await Promise.race([
      old.exited,
      // Unreferenced: a timer left over after the exit must not keep a test run alive.
      sleep(stopTimeoutMs, undefined, { ref: false }).then(() => ({
        code: null,
        signal: null,
        timedOut: true as const,
      })),
    ]);
    const exitMs = Date.now() - signalled;
    const fresh = await this.startApi(i, old.port);
    this.apis[i] = fresh;
    this.state.apis[i] = record(fresh);
    await this.save();
    await this.waitUntil('haproxy', this.state.haproxy.log, 30_000, async () => {
      const servers = await this.serverStats();
      return servers[i]?.status === 'UP';
    });
    return { ...exit, exitMs };
  }

  /** Kills the worker (SIGKILL) and waits for its exit; {@link startWorker} starts another. */
  async killWorker(): Promise<void> {
    const old = this.worker;
    if (!old) throw new Error('no worker in this stack');
    process.kill(old.pid, 'SIGKILL');
    await old.exited;
  }

  async startWorker(): Promise<ApiProcess> {
    const worker = this.launch('worker', 'worker/src/main', {});
    const before = existsSync(worker.log)
      ? (await readFile(worker.log, 'utf8')).split('"worker ready"').length
      : 1;
    this.worker = worker;
    this.state.worker = record(worker);
    await this.save();
    await this.waitUntil(
      'worker',
      worker.log,
      60_000,
      async () => (await readFile(worker.log, 'utf8')).split('"worker ready"').length > before,
      worker.exited,
    );
    return worker;
  }

  /** The stores.sh directory of a private store, for drills that stop one. */
  storeDir(which: 'primary' | 'replica' | 'redis'): string {
    const s = this.state.stores;
    if (!s) throw new Error('this stack uses servers it did not start');
    return which === 'redis' ? s.redis : path.join(s.replicaSet, which);
  }

  /** Runs `stores.sh <kind> <command> <dir> [...]` on one of the stack's stores. */
  async store(which: 'primary' | 'replica' | 'redis', command: string, ...rest: string[]) {
    const kind = which === 'primary' ? 'postgres' : which;
    return stores(kind, command, this.storeDir(which), ...rest);
  }

  /** HAProxy's view of the API servers (runtime API `show stat`). */
  async serverStats(): Promise<ServerStat[]> {
    const csv = await haproxyCommand(this.state.haproxy.socket, 'show stat');
    const lines = csv.split('\n').filter((l) => l.trim());
    const header = lines[0]!.replace(/^# /, '').split(',');
    const col = (name: string) => header.indexOf(name);
    return lines
      .slice(1)
      .map((l) => l.split(','))
      .filter(
        (f) => f[col('pxname')] === 'api' && !['FRONTEND', 'BACKEND'].includes(f[col('svname')]!),
      )
      .map((f) => ({
        name: f[col('svname')]!,
        status: f[col('status')]!,
        total: Number(f[col('stot')]),
      }));
  }

  /**
   * The Prometheus text of every API process, scraped from its own metrics port (METRICS_PORT 0:
   * the port it got is in its log; a restarted process appends, so the last one counts).
   */
  async apiMetrics(): Promise<string[]> {
    return Promise.all(
      this.apis.map(async (api) => {
        const ports = [...(await readFile(api.log, 'utf8')).matchAll(/"metricsPort":(\d+)/g)];
        const port = ports.at(-1)?.[1];
        if (!port) throw new Error(`${api.name}: no metrics port in ${api.log}`);
        const res = await fetch(`http://${HOST}:${port}/metrics`);
        if (res.status !== 200) throw new Error(`${api.name}: /metrics answered ${res.status}`);
        return res.text();
      }),
    );
  }

  /** Takes server `name` (api1…) out of rotation, or puts it back (runtime API). */
  async setServer(name: string, enabled: boolean): Promise<void> {
    await haproxyCommand(
      this.state.haproxy.socket,
      `${enabled ? 'enable' : 'disable'} server api/${name}`,
    );
  }

  fetch(pathname: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.url}${pathname}`, {
      ...init,
      headers: {
        'Content-Type': 'application/json',
        ...(init.headers as Record<string, string> | undefined),
      },
    });
  }

  /** Stops everything this stack started (its own children and pids, never anything else). */
  async stop(): Promise<void> {
    await this.orm?.close(true).catch(() => undefined);
    await stopRecorded(this.state, this.say.bind(this));
  }
}

function record(p: ApiProcess): ProcessRecord {
  return {
    name: p.name,
    pid: p.pid,
    ...(p.port ? { port: p.port } : {}),
    log: p.log,
    entry: p.entry,
  };
}

async function registerUser(url: string): Promise<string> {
  const name = `stack${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const res = await fetch(`${url}/api/users`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      user: { username: name, email: `${name}@example.com`, password: 'stack-password-1' },
    }),
  });
  if (res.status !== 201)
    throw new StackError('api', undefined, `registration through haproxy answered ${res.status}`);
  return ((await res.json()) as { user: { token: string } }).user.token;
}

/**
 * HAProxy in front of the API processes. Health checks on /health/ready every 300 ms: a draining
 * process (readiness 503) is out of rotation after two failed checks (~0.6 s plus the checks'
 * response time), inside its drain delay; a new one is in after two good checks. Only connection failures are retried (on another server):
 * a request that reached a process is never sent twice.
 */
export function haproxyConfig(state: StackState): string {
  return `# Written by scripts/stack/local-stack.ts; regenerated at every start.
global
  maxconn 4096
  stats socket ${state.haproxy.socket} mode 600 level admin

defaults
  mode http
  timeout connect 2s
  timeout client 70s
  timeout server 70s
  timeout http-keep-alive 60s
  option redispatch
  retries 3
  retry-on conn-failure

frontend http
  bind ${HOST}:${state.haproxy.port}
  default_backend api

backend api
  balance roundrobin
  option httpchk
  http-check send meth GET uri /health/ready ver HTTP/1.1 hdr Host localhost
  http-check expect status 200
  # A check may take as long as a request under load (it queries the primary): without a check
  # timeout of its own HAProxy would give it only \`inter\` and mark busy processes down.
  timeout check 3s
  default-server inter 300ms fastinter 300ms downinter 300ms fall 2 rise 2
${state.apis.map((a) => `  server ${a.name} ${HOST}:${a.port} check`).join('\n')}
`;
}

/** One command on HAProxy's runtime API (its unix socket); returns the answer. */
export function haproxyCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    let out = '';
    conn.on('connect', () => conn.end(`${command}\n`));
    conn.on('data', (d) => (out += d.toString()));
    conn.on('end', () => resolve(out));
    conn.on('error', reject);
  });
}

/** Reads `<dir>/state.json`, or undefined when there is none. */
export async function readState(dir: string): Promise<StackState | undefined> {
  const file = path.join(path.resolve(dir), 'state.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(await readFile(file, 'utf8')) as StackState;
}

/**
 * Stops what a state file records: HAProxy, the API processes and the worker (each only if its
 * pid still runs the recorded command), then the private stores through stores.sh. Removes
 * state.json; logs stay.
 */
export async function stopRecorded(
  state: StackState,
  say: (line: string) => void = () => undefined,
) {
  if (isOurs(state.haproxy.pid, state.haproxy.config)) {
    say(`haproxy: stopping pid ${state.haproxy.pid}`);
    process.kill(state.haproxy.pid, 'SIGTERM');
    await gone(state.haproxy.pid, 10_000);
  }
  const procs = [...state.apis, ...(state.worker ? [state.worker] : [])];
  await Promise.all(
    procs.map(async (p) => {
      if (!isOurs(p.pid, p.entry)) return;
      say(`${p.name}: stopping pid ${p.pid}`);
      process.kill(p.pid, 'SIGTERM');
      if (!(await gone(p.pid, 30_000)) && isOurs(p.pid, p.entry)) process.kill(p.pid, 'SIGKILL');
    }),
  );
  if (state.stores) {
    say('redis: stopping');
    await stores('redis', 'stop', state.stores.redis).catch(() => undefined);
    say('postgres: stopping replica and primary');
    await stores('replica-set', 'stop', state.stores.replicaSet).catch(() => undefined);
  }
  await rm(path.join(state.dir, 'state.json'), { force: true });
}
