/**
 * Release step `smoke`: tests a deployed API and makes the exit status the gate.
 *
 *   tsx infra/release/smoke.ts --url https://staging.example.com [--suite k6|realworld]
 *     [--profile smoke] [--scenario mixed] [--report-dir DIR] [--collection FILE] [--dry-run]
 *
 * - `k6` (default): runs `loadtests/dist/<scenario>.js` (`npm run loadtest:build`) with
 *   `PROFILE` and `BASE_URL`; exits with k6's status (99 when a threshold failed). Unlike
 *   `npm run ci:smoke`, a missing k6 is an error here: a gate never passes by skipping.
 * - `realworld`: the RealWorld conformance collection (newman) against `<url>/api` with a fresh
 *   user; exits 1 when any request or assertion failed.
 * `--dry-run` prints what would run and touches nothing.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runProgram, UsageError } from './cli.js';
import { bundlePath, findExecutable, k6Args, REPO_ROOT, runK6 } from './k6.js';

export interface SmokeOptions {
  /** Origin of the deployed API, e.g. `https://staging.example.com`. */
  url: string;
  /** What to run. @default 'k6' */
  suite: 'k6' | 'realworld';
  /** k6 profile (`__ENV.PROFILE`). @default 'smoke' */
  profile: string;
  /** k6 scenario: the bundle `loadtests/dist/<scenario>.js`. @default 'mixed' */
  scenario: string;
  /** Where the k6 summary or the newman JSON report is written. @default no report files */
  reportDir?: string;
  /**
   * The RealWorld Postman collection.
   * @default `$PLINTH_REALWORLD_DIR/Conduit.postman_collection.json`, else the vendored
   * `vendor/realworld/…`
   */
  collection: string;
  /** Print the plan only. @default false */
  dryRun: boolean;
  /** Print newman's per-request report (the pipeline log shows what failed). @default true */
  newmanReport?: boolean;
}

const DEFAULT_COLLECTION = path.join(
  process.env.PLINTH_REALWORLD_DIR ?? path.join(REPO_ROOT, 'vendor', 'realworld'),
  'Conduit.postman_collection.json',
);

/** Parses and checks the command line; throws UsageError with the fix on bad input. */
export function parseSmokeArgs(argv: string[]): SmokeOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      suite: { type: 'string', default: 'k6' },
      profile: { type: 'string', default: 'smoke' },
      scenario: { type: 'string', default: 'mixed' },
      'report-dir': { type: 'string' },
      collection: { type: 'string', default: DEFAULT_COLLECTION },
      'dry-run': { type: 'boolean', default: false },
    },
    strict: true,
  });
  let url: URL;
  try {
    url = new URL(values.url ?? '');
  } catch {
    throw new UsageError(`--url must be the API's origin, e.g. https://staging.example.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError(`--url must be http(s), got ${url.protocol}`);
  }
  if (values.suite !== 'k6' && values.suite !== 'realworld') {
    throw new UsageError(`--suite must be k6 or realworld, got "${values.suite}"`);
  }
  return {
    url: url.origin,
    suite: values.suite,
    profile: values.profile,
    scenario: values.scenario,
    ...(values['report-dir'] ? { reportDir: values['report-dir'] } : {}),
    collection: values.collection,
    dryRun: values['dry-run'],
  };
}

/** Runs the RealWorld collection; resolves with the number of failed requests and assertions. */
export async function runRealWorldSuite(
  apiUrl: string,
  collection: string,
  { reportDir, print = true }: { reportDir?: string | undefined; print?: boolean } = {},
): Promise<number> {
  // Loaded here: the k6 path does not need newman's start-up cost.
  const { default: newman } = await import('newman');
  // A fresh user per run: the collection registers it and expects the name to be free.
  const run = `smoke${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  return new Promise((resolve, reject) => {
    newman.run(
      {
        collection,
        globals: {
          values: [
            { key: 'APIURL', value: apiUrl, type: 'text' },
            { key: 'USERNAME', value: run, type: 'text' },
            { key: 'EMAIL', value: `${run}@example.com`, type: 'text' },
            { key: 'PASSWORD', value: randomBytes(18).toString('base64url'), type: 'text' },
          ],
        },
        reporters: [...(print ? ['cli'] : []), ...(reportDir ? ['json'] : [])],
        ...(reportDir
          ? { reporter: { json: { export: path.join(reportDir, 'realworld-summary.json') } } }
          : {}),
      },
      (err, summary) => {
        if (err) return reject(err);
        const { requests, assertions } = summary.run.stats;
        resolve((requests.failed ?? 0) + (assertions.failed ?? 0));
      },
    );
  });
}

/** Runs the smoke suite; resolves with the process exit status. */
export async function smoke(options: SmokeOptions, log = console.log): Promise<number> {
  if (options.reportDir && !options.dryRun) mkdirSync(options.reportDir, { recursive: true });
  if (options.suite === 'realworld') {
    const apiUrl = `${options.url}/api`;
    if (!existsSync(options.collection)) {
      throw new Error(`RealWorld collection not found at ${options.collection} (--collection)`);
    }
    if (options.dryRun) {
      log(`smoke: dry run: would run ${options.collection} with newman against ${apiUrl}`);
      return 0;
    }
    const failed = await runRealWorldSuite(apiUrl, options.collection, {
      reportDir: options.reportDir,
      print: options.newmanReport ?? true,
    });
    log(`smoke: RealWorld suite against ${apiUrl}: ${failed} failure(s)`);
    return failed === 0 ? 0 : 1;
  }

  const script = bundlePath(options.scenario);
  const run = { script, baseUrl: options.url, profile: options.profile };
  const k6Options = options.reportDir ? { ...run, reportDir: options.reportDir } : run;
  if (options.dryRun) {
    log(`smoke: dry run: would run k6 ${k6Args(k6Options).join(' ')}`);
    return 0;
  }
  if (!existsSync(script)) {
    throw new Error(`${script} does not exist: run \`npm run loadtest:build\` first`);
  }
  if (!findExecutable('k6')) throw new Error('k6 is not on PATH: a gate cannot pass without it');
  const status = await runK6(k6Options);
  log(`smoke: k6 ${options.scenario} (${options.profile}) against ${options.url}: exit ${status}`);
  return status;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runProgram('smoke', () => smoke(parseSmokeArgs(process.argv.slice(2))));
}
