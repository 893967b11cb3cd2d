import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { UsageError } from '../../release/cli.js';
import { servesGraphql } from '../../lib/body-routes.js';
import { bundlePath, findExecutable, k6Args, k6Environment, runK6 } from '../../release/k6.js';
import { parseSmokeArgs, smoke } from '../../release/smoke.js';

/** A stand-in for k6 (not installable here): records its arguments and exits with $FAKE_K6_EXIT. */
const FAKE_K6 = `#!/bin/sh
printf '%s\\n' "$PWD" "$@" > "$FAKE_K6_RECORD"
exit "\${FAKE_K6_EXIT:-0}"
`;

let dir: string;
let fakeBin: string;
let record: string;
const originalPath = process.env.PATH;
// A real file where the program looks for bundles, removed afterwards (loadtests/dist is ignored by git).
const scenario = `release-smoke-test-${process.pid}`;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'plinth-release-smoke-'));
  fakeBin = path.join(dir, 'bin');
  record = path.join(dir, 'k6-call.txt');
  await mkdir(fakeBin);
  await writeFile(path.join(fakeBin, 'k6'), FAKE_K6);
  await chmod(path.join(fakeBin, 'k6'), 0o755);
  await mkdir(path.dirname(bundlePath(scenario)), { recursive: true });
  await writeFile(bundlePath(scenario), 'export default function () {}\n');
  process.env.FAKE_K6_RECORD = record;
});

afterEach(() => {
  process.env.PATH = originalPath;
  delete process.env.FAKE_K6_EXIT;
});

afterAll(async () => {
  await rm(bundlePath(scenario), { force: true });
  await rm(dir, { recursive: true, force: true });
});

const recorded = async () => (await readFile(record, 'utf8')).trimEnd().split('\n');
const quiet = () => undefined;

describe('k6 runner', () => {
  it('passes profile and target as k6 environment, the summary path and the script', () => {
    expect(
      k6Args({ script: 'b.js', baseUrl: 'https://x.example/', profile: 'average', reportDir: dir }),
    ).toEqual([
      'run',
      '-e',
      'PROFILE=average',
      '-e',
      'BASE_URL=https://x.example',
      '--summary-export',
      path.join(dir, 'k6-summary.json'),
      path.resolve('b.js'),
    ]);
    expect(k6Args({ script: '/s.js', baseUrl: 'http://h' })).toEqual([
      'run',
      '-e',
      'PROFILE=smoke',
      '-e',
      'BASE_URL=http://h',
      '/s.js',
    ]);
  });

  it("resolves with k6's exit status, k6 running in the report directory", async () => {
    process.env.FAKE_K6_EXIT = '99';
    const status = await runK6({
      k6: path.join(fakeBin, 'k6'),
      script: '/s.js',
      baseUrl: 'http://h',
      reportDir: dir,
    });
    expect(status).toBe(99);
    expect((await recorded())[0]).toBe(dir);
  });

  it('tells the scripts whether the API serves GraphQL, from its route manifest, unless told', async () => {
    const manifest = path.join(dir, 'body-routes.json');
    const routes = [{ method: 'POST', path: '/api/users' }];
    await writeFile(manifest, JSON.stringify({ bodyRoutes: routes }));
    expect(servesGraphql(manifest)).toBe(false);
    await writeFile(
      manifest,
      JSON.stringify({ bodyRoutes: [...routes, { method: 'POST', path: '/graphql' }] }),
    );
    expect(servesGraphql(manifest)).toBe(true);
    // This checkout's manifest decides the default; a GRAPHQL the caller sets is kept.
    expect(k6Environment({ A: 'b' })).toEqual({ A: 'b', GRAPHQL: servesGraphql() ? '1' : '0' });
    expect(k6Environment({ GRAPHQL: '1' })).toEqual({ GRAPHQL: '1' });
  });

  it('finds executables on a PATH like `command -v`, and only executable ones', async () => {
    await writeFile(path.join(dir, 'k6'), 'not executable');
    expect(findExecutable('k6', `${dir}:${fakeBin}`)).toBe(path.join(fakeBin, 'k6'));
    expect(findExecutable('k6', dir)).toBeUndefined();
  });

  it('rejects scenario names that are not plain file names', () => {
    expect(() => bundlePath('../../etc/passwd')).toThrow('must be a file name in loadtests/dist');
  });
});

describe('release step: smoke', () => {
  it('runs the k6 bundle against the URL and exits with its status (a failed threshold fails the gate)', async () => {
    process.env.PATH = `${fakeBin}:${originalPath}`;
    process.env.FAKE_K6_EXIT = '99';
    const options = parseSmokeArgs([
      '--url',
      'https://staging.example.com/',
      '--scenario',
      scenario,
    ]);

    expect(await smoke(options, quiet)).toBe(99);
    expect((await recorded()).slice(1)).toEqual([
      'run',
      '-e',
      'PROFILE=smoke',
      '-e',
      'BASE_URL=https://staging.example.com',
      bundlePath(scenario),
    ]);

    process.env.FAKE_K6_EXIT = '0';
    expect(await smoke(options, quiet)).toBe(0);
  });

  it('when k6 is missing, then it fails instead of skipping: a gate never passes unchecked', async () => {
    process.env.PATH = '/nonexistent';
    const options = parseSmokeArgs([
      '--url',
      'https://staging.example.com',
      '--scenario',
      scenario,
    ]);
    await expect(smoke(options, quiet)).rejects.toThrow('k6 is not on PATH');
  });

  it('when the bundle was not built, then it says to run loadtest:build', async () => {
    const options = parseSmokeArgs(['--url', 'https://x.example', '--scenario', 'never-built']);
    await expect(smoke(options, quiet)).rejects.toThrow('run `npm run loadtest:build` first');
  });

  it('with --dry-run, it prints the command and runs nothing', async () => {
    process.env.PATH = '/nonexistent';
    const lines: string[] = [];
    const options = parseSmokeArgs([
      '--url',
      'https://x.example',
      '--profile',
      'average',
      '--report-dir',
      dir,
      '--dry-run',
    ]);
    expect(await smoke(options, (l) => lines.push(l))).toBe(0);
    expect(lines.join('\n')).toContain(
      `would run k6 run -e PROFILE=average -e BASE_URL=https://x.example --summary-export`,
    );
    expect(lines.join('\n')).toContain(bundlePath('mixed'));

    const collection = path.join(dir, 'collection.json');
    await writeFile(collection, '{}');
    const realworld = parseSmokeArgs([
      '--url',
      'https://x.example',
      '--suite',
      'realworld',
      '--collection',
      collection,
      '--dry-run',
    ]);
    expect(await smoke(realworld, (l) => lines.push(l))).toBe(0);
    expect(lines.at(-1)).toContain(`with newman against https://x.example/api`);
  });

  it.each([
    [[], '--url must be'],
    [['--url', 'staging.example.com'], '--url must be'],
    [['--url', 'ftp://x.example'], '--url must be http(s)'],
    [['--url', 'https://x.example', '--suite', 'jmeter'], '--suite must be k6 or realworld'],
  ])('rejects %j with a usage error that says the fix', (argv, message) => {
    expect(() => parseSmokeArgs(argv)).toThrow(UsageError);
    expect(() => parseSmokeArgs(argv)).toThrow(message);
  });
});
