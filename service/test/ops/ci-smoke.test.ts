import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { dropDatabase, ensureDatabase } from '../../src/db/admin.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../support/env.js';
import { REPO_ROOT } from '../support/paths.js';

const exec = promisify(execFile);

/** A stand-in for k6 (not installable here): records how it was called, and whether the service answered meanwhile. */
const FAKE_K6 = `#!/usr/bin/env node
const fs = require('node:fs');
const base = process.argv.find((a) => a.startsWith('BASE_URL=')).slice('BASE_URL='.length);
fetch(base + '/api/articles?limit=1').then(async (r) => {
  const record = { argv: process.argv.slice(2), cwd: process.cwd(), status: r.status, env: process.env.NODE_ENV };
  fs.writeFileSync(process.env.FAKE_K6_RECORD, JSON.stringify(record));
  process.exit(99);
});
`;

interface Run {
  code: number;
  stdout: string;
}

/** `npm run ci:smoke -- <args>` with PATH limited to Node's own directory plus `extraPath`. */
async function ciSmoke(args: string[], env: Record<string, string>, extraPath = ''): Promise<Run> {
  const nodeDir = path.dirname(process.execPath);
  const run = exec(process.execPath, ['--import', 'tsx', 'scripts/ci-smoke.ts', ...args], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      TEST_DATABASE_URL,
      TEST_REDIS_URL,
      PATH: [extraPath, nodeDir, '/usr/bin', '/bin'].filter(Boolean).join(':'),
      ...env,
    },
    maxBuffer: 16 * 1024 * 1024,
  });
  return run.then(
    ({ stdout }) => ({ code: 0, stdout }),
    (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }),
  );
}

/** The database and Redis prefix the run printed; both must be gone after it. */
async function expectCleanedUp(stdout: string) {
  const [, db, prefix] = /database (plinth_smoke_\w+), Redis prefix (\S+),/.exec(stdout) ?? [];
  expect(db).toBeDefined();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${db}`;
  // Creating it succeeds only because the run dropped it.
  expect(await ensureDatabase(url.toString())).toBe(true);
  await dropDatabase(url.toString());
  const redis = new Redis(TEST_REDIS_URL);
  try {
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
  } finally {
    redis.disconnect();
  }
}

describe('npm run ci:smoke', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'plinth-ci-smoke-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('without k6, builds and starts the production build, checks real requests, says it skipped k6 and cleans up', async () => {
    const reportDir = path.join(dir, 'no-k6');
    const { code, stdout } = await ciSmoke(['--report-dir', reportDir], {});
    expect({ code, stdout }).toEqual({ code: 0, stdout: expect.stringContaining('passed') });
    expect(stdout).toContain('k6 is not on PATH: SKIPPED the k6 step');
    for (const check of ['GET /api/articles?limit=5 (seeded): 200', 'GET /api/user (token): 200']) {
      expect(stdout).toContain(`✓ ${check}`);
    }
    // Migrated and seeded from dist/, as the image does, and served with NODE_ENV=production.
    const log = await readFile(path.join(reportDir, 'service.log'), 'utf8');
    expect(log).toContain('"name":"migrate"');
    expect(log).toContain('seed complete');
    await expectCleanedUp(stdout);
  }, 180_000);

  it("with k6 on PATH, runs it against the started service and exits with k6's status", async () => {
    const bin = path.join(dir, 'bin');
    await exec('mkdir', ['-p', bin]);
    await writeFile(path.join(bin, 'k6'), FAKE_K6);
    await chmod(path.join(bin, 'k6'), 0o755);
    const script = path.join(dir, 'scenario.js');
    await writeFile(script, 'export default function () {}\n');
    const record = path.join(dir, 'k6-call.json');
    const reportDir = path.join(dir, 'k6');

    const { code, stdout } = await ciSmoke(
      ['--skip-build', '--k6-script', script, '--report-dir', reportDir],
      { FAKE_K6_RECORD: record },
      bin,
    );

    expect({ code, tail: stdout.split('\n').slice(-3) }).toEqual({
      code: 99,
      tail: expect.arrayContaining([expect.stringContaining('FAILED (exit 99)')]),
    });
    const call = JSON.parse(await readFile(record, 'utf8')) as {
      argv: string[];
      cwd: string;
      status: number;
    };
    const baseUrl = /production build ready on (\S+)/.exec(stdout)?.[1];
    expect(call.argv).toEqual([
      'run',
      '-e',
      'PROFILE=smoke',
      '-e',
      `BASE_URL=${baseUrl}`,
      '--summary-export',
      path.join(reportDir, 'k6-summary.json'),
      script,
    ]);
    expect(call.cwd).toBe(reportDir);
    // The service answered while k6 ran.
    expect(call.status).toBe(200);
    await expectCleanedUp(stdout);
  }, 120_000);
});
