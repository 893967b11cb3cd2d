import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './paths.js';
import { spawnNode, type Spawned } from './process.js';

const exec = promisify(execFile);

/**
 * Compiles the production build (tsconfig.build.json, as the image's build stage does) into
 * `<dir>/dist`, with this repository's TypeScript on the Node running the tests; tests that run
 * the build as child processes compile their own copy, so no test depends on a stale `dist/`.
 */
export async function compileBuild(dir: string): Promise<void> {
  await exec(
    process.execPath,
    [
      path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc'),
      '-p',
      'tsconfig.build.json',
      '--outDir',
      path.join(dir, 'dist'),
    ],
    { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 },
  );
}

export interface StartBuiltOptions {
  /** Node options before the entry, e.g. `['--import', '<dir>/dist/service/src/tracing.js']`. */
  nodeArgs?: string[];
  /**
   * How long start-up may take until `ready` is logged.
   * @default 90 s (a loaded machine took tens of seconds to start the API)
   */
  timeoutMs?: number;
}

/**
 * Starts `<dir>/dist/<entry>` of a compiled build as its own process, in `dir`, with exactly
 * `env` (and PATH, HOME); resolves once its stdout shows `ready` (a log message). A process
 * that does not get there is killed.
 */
export async function startBuilt(
  dir: string,
  entry: string,
  env: NodeJS.ProcessEnv,
  ready: string,
  options: StartBuiltOptions = {},
): Promise<Spawned> {
  const proc = spawnNode([...(options.nodeArgs ?? []), path.join(dir, 'dist', entry)], env, dir);
  await proc.waitFor(ready, options.timeoutMs ?? 90_000).catch((err: unknown) => {
    proc.child.kill('SIGKILL');
    throw err;
  });
  return proc;
}

/** The JSON log lines a process wrote to stdout so far, parsed (a line still being written: not yet). */
export function logLines(proc: Spawned): Record<string, unknown>[] {
  const out = proc.stdout();
  return out
    .slice(0, out.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
