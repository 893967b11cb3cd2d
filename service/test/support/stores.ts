import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './paths.js';
import { freePort } from './process.js';

const exec = promisify(execFile);

export type StoreKind = 'redis' | 'postgres';

/**
 * A PostgreSQL or Redis server of the caller's own, on a free port, for tests and drills that
 * stop, freeze or kill it (never the shared servers). A thin wrapper over `scripts/stores.sh`.
 */
export interface PrivateStore {
  kind: StoreKind;
  port: number;
  /** `redis://127.0.0.1:<port>` or `postgres://postgres@127.0.0.1:<port>/postgres`. */
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
  /** Stops it and deletes its directory. */
  remove(): Promise<void>;
}

async function stores(...args: string[]): Promise<string> {
  const { stdout } = await exec('bash', [path.join(REPO_ROOT, 'scripts/stores.sh'), ...args]);
  return stdout;
}

/** Starts a private `kind` server in a fresh temporary directory. */
export async function startPrivateStore(kind: StoreKind): Promise<PrivateStore> {
  const root = await mkdtemp(path.join(os.tmpdir(), `plinth-${kind}-`));
  // PostgreSQL runs as the `postgres` user when tests run as root: it must reach its directory.
  await chmod(root, 0o755);
  const dir = path.join(root, kind);
  const port = await freePort();
  const run = async (command: string, ...rest: string[]) => {
    await stores(kind, command, dir, ...rest);
  };
  const store: PrivateStore = {
    kind,
    port,
    url:
      kind === 'redis'
        ? `redis://127.0.0.1:${port}`
        : `postgres://postgres@127.0.0.1:${port}/postgres`,
    start: () => run('start', String(port)),
    stop: () => run('stop'),
    freeze: () => run('freeze'),
    thaw: () => run('thaw'),
    kill: () => run('kill'),
    async remove() {
      await run('stop');
      await rm(root, { recursive: true, force: true });
    },
  };
  await store.start();
  return store;
}
