import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from './database.js';
import { REPO_ROOT } from './paths.js';
import { distinctPorts, freePort } from './process.js';

const exec = promisify(execFile);

export type StoreKind = 'redis' | 'postgres';

/**
 * A PostgreSQL or Redis server of the caller's own, on a free port, for tests and drills that
 * stop, freeze or kill it (never the shared servers). A thin wrapper over `scripts/stores.sh`.
 */
export interface PrivateStore {
  kind: StoreKind;
  port: number;
  /** `redis://127.0.0.1:<port>` (`rediss://` with TLS) or `postgres://postgres@127.0.0.1:<port>/postgres`. */
  url: string;
  /** (Re)starts it on the same port; a Redis restarts empty, a PostgreSQL keeps its data. */
  start(): Promise<void>;
  /** Clean stop; nothing happens when it is not running. */
  stop(): Promise<void>;
  /** SIGSTOP: connections stay open and nothing answers (a hung server). */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
  /** Its processes now (PostgreSQL: the postmaster and its children). */
  pids(): Promise<number[]>;
  /** Stops it and deletes its directory. */
  remove(): Promise<void>;
}

/** A streaming replica of a private primary (`stores.sh replica`). */
export interface PrivateReplica extends PrivateStore {
  /** `pg_wal_replay_pause()`, returning once replay has stopped: WAL still arrives, unapplied. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** WAL bytes the primary has written that this replica has not replayed yet. */
  lagBytes(): Promise<number>;
  /** Waits until it has replayed everything the primary had written when called. */
  catchUp(): Promise<void>;
  /** Runs `body` with replay paused; resumes and catches up after, whatever happens. */
  whilePaused(body: () => Promise<void>): Promise<void>;
}

/** A private primary and its streaming replica (`stores.sh replica-set`). */
export interface PrivateReplicaSet {
  primary: PrivateStore;
  replica: PrivateReplica;
  /** The app's variables for the set (DATABASE_URL, DATABASE_REPLICA_URLS), from the script. */
  env: Record<string, string>;
  /** Stops both and deletes their directory. */
  remove(): Promise<void>;
}

/** A PostgreSQL and a Redis that speak TLS only, with certificates of their own (`stores.sh tls`). */
export interface TlsStores {
  /** TLS connections only; plain TCP is refused. */
  postgres: PrivateStore;
  /** TLS only, and AUTH with `redisPassword`. */
  redis: PrivateStore;
  redisPassword: string;
  /** The CA that signed both servers' certificates (for 127.0.0.1 and localhost). */
  caFile: string;
  /** A CA that signed neither. */
  wrongCaFile: string;
  /** A certificate and key signed by `caFile` for the name `localhost` but not for 127.0.0.1. */
  localhostOnly: { certFile: string; keyFile: string };
  /** The app's variables for these servers, verify-full included, from the script. */
  env: Record<string, string>;
  /** Stops both and deletes their directory. */
  remove(): Promise<void>;
}

/** Runs `scripts/stores.sh` with `args`; resolves to its output (rejects with its stderr). */
export async function stores(...args: string[]): Promise<string> {
  const { stdout } = await exec('bash', [path.join(REPO_ROOT, 'scripts/stores.sh'), ...args]);
  return stdout;
}

/** A fresh temporary directory the `postgres` user can reach (it runs PostgreSQL when we are root). */
async function storeRoot(name: string): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), `plinth-${name}-`));
  await chmod(root, 0o755);
  return root;
}

/** KEY=value lines of `stores.sh <set> env`. */
export function parseEnv(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/**
 * The handle of a server in `dir`; `script` is the stores.sh kind that controls it and
 * `startArgs` what follows `start DIR` (the port first).
 */
function storeHandle(
  kind: StoreKind,
  script: 'redis' | 'postgres' | 'replica',
  dir: string,
  url: string,
  startArgs: string[],
  removeDir: string,
): PrivateStore {
  const port = Number(new URL(url).port);
  const run = async (command: string, ...rest: string[]) => {
    await stores(script, command, dir, ...rest);
  };
  return {
    kind,
    port,
    url,
    start: () => run('start', ...startArgs),
    stop: () => run('stop'),
    freeze: () => run('freeze'),
    thaw: () => run('thaw'),
    kill: () => run('kill'),
    pids: async () => (await stores(script, 'pids', dir)).split(/\s+/).filter(Boolean).map(Number),
    async remove() {
      await run('stop');
      await rm(removeDir, { recursive: true, force: true });
    },
  };
}

const postgresUrl = (port: number) => `postgres://postgres@127.0.0.1:${port}/postgres`;

/** Starts a private `kind` server in a fresh temporary directory. */
export async function startPrivateStore(kind: StoreKind): Promise<PrivateStore> {
  const root = await storeRoot(kind);
  const port = await freePort();
  const url = kind === 'redis' ? `redis://127.0.0.1:${port}` : postgresUrl(port);
  const store = storeHandle(kind, kind, path.join(root, kind), url, [String(port)], root);
  await store.start();
  return store;
}

/** Starts a `stores.sh` set in a fresh directory on two distinct free ports. */
async function startSet(set: 'replica-set' | 'tls') {
  const root = await storeRoot(set);
  const [first, second] = (await distinctPorts(2)) as [number, number];
  await stores(set, 'start', root, String(first), String(second));
  return {
    root,
    ports: [first, second] as const,
    env: parseEnv(await stores(set, 'env', root)),
    async remove() {
      await stores(set, 'stop', root);
      await rm(root, { recursive: true, force: true });
    },
  };
}

/**
 * A private primary and a real streaming replica of it (`pg_basebackup -R`), each on a free port.
 * Give a test that pauses replay a set of its own.
 */
export async function startPrivateReplicaSet(): Promise<PrivateReplicaSet> {
  const { root, ports, env, remove } = await startSet('replica-set');
  const member = (script: 'postgres' | 'replica', url: string, startArgs: string[]) => {
    const dir = path.join(root, script === 'replica' ? 'replica' : 'primary');
    return storeHandle('postgres', script, dir, url, startArgs, dir);
  };
  const replica = member('replica', env.DATABASE_REPLICA_URLS!, [
    String(ports[1]),
    path.join(root, 'primary'),
  ]);
  const replicaCommand = (command: string) =>
    stores('replica', command, path.join(root, 'replica'));
  const resumeReplay = async () => void (await replicaCommand('resume'));
  const catchUp = async () => void (await replicaCommand('sync'));
  return {
    primary: member('postgres', env.DATABASE_URL!, [String(ports[0])]),
    replica: {
      ...replica,
      pauseReplay: async () => void (await replicaCommand('pause')),
      resumeReplay,
      lagBytes: async () => Number((await replicaCommand('lag')).trim()),
      catchUp,
      async whilePaused(body) {
        await replicaCommand('pause');
        try {
          await body();
        } finally {
          await resumeReplay();
          await catchUp();
        }
      },
    },
    env,
    remove,
  };
}

/** A private replica set with a fresh, migrated test database on its primary. */
export interface ReplicatedTestDatabase {
  set: PrivateReplicaSet;
  /** The database on the primary. */
  db: TestDatabase;
  /** The same database on the replica (replayed there before this resolves). */
  replicaUrl: string;
  /** Stops and deletes the set (its databases with it). */
  remove(): Promise<void>;
}

/** Starts a {@link PrivateReplicaSet} with a test database replayed on its replica. */
export async function startReplicatedTestDatabase(): Promise<ReplicatedTestDatabase> {
  const set = await startPrivateReplicaSet();
  const db = await createTestDatabase({ serverUrl: set.primary.url });
  const url = new URL(set.replica.url);
  url.pathname = new URL(db.url).pathname;
  await set.replica.catchUp();
  return {
    set,
    db,
    replicaUrl: url.toString(),
    remove: () => set.remove(),
  };
}

/** CA-signed certificates for 127.0.0.1 and localhost (`stores.sh certs create DIR`). */
export interface TestCertificates {
  /** The CA a client must trust (e.g. NODE_EXTRA_CA_CERTS). */
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** Creates (once) test certificates in `dir`. */
export async function createCertificates(dir: string): Promise<TestCertificates> {
  await stores('certs', 'create', dir);
  return {
    caFile: path.join(dir, 'ca.crt'),
    certFile: path.join(dir, 'server.crt'),
    keyFile: path.join(dir, 'server.key'),
  };
}

/** A TLS-only PostgreSQL and a TLS + AUTH Redis with freshly made certificates, on free ports. */
export async function startTlsStores(): Promise<TlsStores> {
  const { root, ports, env, remove } = await startSet('tls');
  const certs = path.join(root, 'certs');
  const server = (kind: StoreKind, port: number, url: string) => {
    const dir = path.join(root, kind);
    return storeHandle(kind, kind, dir, url, [String(port), '--tls', certs], dir);
  };
  return {
    postgres: server('postgres', ports[0], env.DATABASE_URL!),
    redis: server('redis', ports[1], env.REDIS_URL!),
    redisPassword: env.REDIS_AUTH_TOKEN!,
    caFile: path.join(certs, 'ca.crt'),
    wrongCaFile: path.join(certs, 'wrong-ca.crt'),
    localhostOnly: {
      certFile: path.join(certs, 'localhost-only.crt'),
      keyFile: path.join(certs, 'localhost-only.key'),
    },
    env,
    remove,
  };
}
