// `npm run test:nodb` is what the pipeline's synth step runs, where no PostgreSQL or Redis exists:
// every test it selects must need neither. Checked on what jest actually selects, through each
// test's whole import graph (a helper that creates a database or starts the API is a giveaway).
import { execFile } from 'node:child_process';
import { relative } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { build } from 'esbuild';
import { REPO_ROOT } from '../lib/stacks/app-stack.js';

const exec = promisify(execFile);

/** Modules that only a test needing a database or Redis imports. */
const NEEDS_A_DATABASE = [
  'service/test/support/database.ts', // createTestDatabase
  'service/test/support/server.ts', // startTestServer: the API on a real database
  'service/src/db/admin.ts', // creates and drops databases
  'worker/test/support/queues.ts', // Bull queues on Redis
  'loadtests/test/k6-shim/run.ts', // k6 journeys against a running API
];

/** Each entry point's bundle, with esbuild's record of every module it reached. */
const bundle = (entryPoints: string[]) =>
  build({
    entryPoints,
    absWorkingDir: REPO_ROOT,
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outdir: 'unused',
    logLevel: 'silent',
  });

async function selectedTests(): Promise<string[]> {
  const { stdout } = await exec(
    process.execPath,
    ['node_modules/jest/bin/jest.js', '--config', 'jest.nodb.config.js', '--listTests'],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_OPTIONS: '--experimental-vm-modules --no-warnings' },
    },
  );
  return stdout
    .split('\n')
    .filter((line) => line.endsWith('.test.ts'))
    .map((file) => relative(REPO_ROOT, file))
    .sort();
}

describe('npm run test:nodb', () => {
  it('selects every infra test and the listed unit tests, none of which reaches a database', async () => {
    const tests = await selectedTests();
    expect(tests.filter((t) => t.startsWith('infra/test/'))).toContain(
      'infra/test/nodb-selection.test.ts',
    );
    expect(tests).toEqual(
      expect.arrayContaining([
        'service/test/db/expand-only.test.ts',
        'loadtests/test/bundles.test.ts',
      ]),
    );
    expect(tests.some((t) => t.startsWith('worker/'))).toBe(false);

    const { metafile } = await bundle(tests);
    const reached = (test: string) => {
      const output = Object.values(metafile.outputs).find((o) => o.entryPoint === test);
      return Object.keys(output?.inputs ?? {});
    };
    for (const test of tests)
      expect({ test, reached: reached(test) }).toMatchObject({
        reached: expect.arrayContaining([test]),
      });
    const offenders = tests.flatMap((test) =>
      reached(test)
        .filter((input) => NEEDS_A_DATABASE.includes(input))
        .map((input) => `${test} → ${input}`),
    );
    expect(offenders).toEqual([]);
    // The probe itself works: a database-backed suite is caught.
    const probe = await bundle(['service/test/health/health.test.ts']);
    expect(Object.keys(probe.metafile.inputs).some((i) => NEEDS_A_DATABASE.includes(i))).toBe(true);
  }, 60_000);
});
