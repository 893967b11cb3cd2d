/**
 * Running a k6 bundle as a gate: one place that builds the command line and returns k6's exit
 * status (0 when every threshold held, 99 when one failed, anything else is an error), shared by
 * the release `smoke` program and `npm run ci:smoke`.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { servesGraphql } from '../lib/body-routes.js';

/** The repository root (this file is infra/release/k6.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Where `npm run loadtest:build` writes the bundle of a scenario. */
export function bundlePath(scenario: string): string {
  if (!/^[\w-]+$/.test(scenario)) {
    throw new Error(`scenario "${scenario}" must be a file name in loadtests/dist without ".js"`);
  }
  return path.join(REPO_ROOT, 'loadtests', 'dist', `${scenario}.js`);
}

/** The first executable `name` on `searchPath` (PATH syntax), like `command -v`. */
export function findExecutable(
  name: string,
  searchPath = process.env.PATH ?? '',
): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface K6RunOptions {
  /** The k6 script to run, e.g. `bundlePath('mixed')`. */
  script: string;
  /** Target origin, handed to the script as `__ENV.BASE_URL`. */
  baseUrl: string;
  /** Load profile, handed to the script as `__ENV.PROFILE`. @default 'smoke' */
  profile?: string;
  /**
   * Directory for k6's end-of-test summary (`k6-summary.json`, via `--summary-export`); k6 also
   * runs in it, so files a `handleSummary()` writes by relative name land there too.
   * @default no summary file; k6 runs in the current directory
   */
  reportDir?: string;
  /** The k6 executable. @default the `k6` on PATH */
  k6?: string;
  /** k6's process environment (see {@link k6Environment}). @default `process.env` */
  env?: NodeJS.ProcessEnv;
}

/** The k6 command line (without the executable) for `options`. */
export function k6Args(options: K6RunOptions): string[] {
  const args = ['run', '-e', `PROFILE=${options.profile ?? 'smoke'}`];
  args.push('-e', `BASE_URL=${options.baseUrl.replace(/\/$/, '')}`);
  if (options.reportDir) {
    args.push('--summary-export', path.join(path.resolve(options.reportDir), 'k6-summary.json'));
  }
  args.push(path.resolve(options.script));
  return args;
}

/**
 * k6's environment: `env` plus `GRAPHQL=0` when this checkout's API serves no `/graphql` (its route
 * manifest lists none), so the mix leaves the GraphQL journey out instead of failing setup; it
 * joins by itself once the API serves it. A `GRAPHQL` the caller sets wins.
 */
export function k6Environment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.GRAPHQL !== undefined ? env : { ...env, GRAPHQL: servesGraphql() ? '1' : '0' };
}

/** Runs k6 with inherited output; resolves with its exit status (a signal counts as 1). */
export function runK6(options: K6RunOptions): Promise<number> {
  const env = k6Environment(options.env ?? process.env);
  const k6 = options.k6 ?? findExecutable('k6', env.PATH);
  if (!k6) return Promise.reject(new Error('k6 is not on PATH'));
  return new Promise((resolve, reject) => {
    const child = spawn(k6, k6Args(options), {
      cwd: options.reportDir ? path.resolve(options.reportDir) : process.cwd(),
      env,
      stdio: 'inherit',
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}
