import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { REPO_ROOT } from '../support/paths.js';

const exec = promisify(execFile);

/** The image cannot be built here (no Docker engine); these pin what it relies on. */
describe('container image', () => {
  let fakeBin: string;

  beforeAll(async () => {
    // A `node` that reports how it was called, so the entrypoint's dispatch is observable.
    fakeBin = await mkdtemp(path.join(os.tmpdir(), 'plinth-entrypoint-'));
    await writeFile(path.join(fakeBin, 'node'), '#!/bin/sh\necho "$(pwd) node $*"\n');
    await chmod(path.join(fakeBin, 'node'), 0o755);
  });

  afterAll(() => rm(fakeBin, { recursive: true, force: true }));

  const entrypoint = (...args: string[]) =>
    exec(path.join(REPO_ROOT, 'scripts/docker-entrypoint.sh'), args, {
      cwd: os.tmpdir(),
      env: { PATH: `${fakeBin}:/usr/bin:/bin` },
    });

  // The long-running processes load tracing first (a no-op unless OTEL_* names an exporter).
  const traced = '--import ./dist/service/src/tracing.js';
  it.each([
    [['service'], `${traced} dist/service/src/server.js`],
    [[], `${traced} dist/service/src/server.js`],
    [['worker'], `${traced} dist/worker/src/main.js`],
    [['migrate'], 'dist/service/src/db/migrate.js'],
    [['seed'], 'dist/service/src/db/seed.js'],
  ])('when the command is %j, then it runs node %s from the image root', async (args, script) => {
    const { stdout } = await entrypoint(...args);
    expect(stdout.trim()).toBe(`${REPO_ROOT} node ${script}`);
  });

  it('when the command is anything else, then it runs that command as given', async () => {
    const { stdout } = await entrypoint('echo', 'hello', 'world');
    expect(stdout.trim()).toBe('hello world');
  });

  it('keeps dependencies, build output, git history and test data out of the build context', async () => {
    // An allow-list: everything is excluded, then exactly what the Dockerfile copies comes back
    // (infra/test/image-context.test.ts checks the asset hash this gives).
    const patterns = (await readFile(path.join(REPO_ROOT, '.dockerignore'), 'utf8'))
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    expect(patterns[0]).toBe('*');
    const included = patterns.slice(1).map((p) => p.replace(/^!/, ''));
    expect(patterns.slice(1).every((p) => p.startsWith('!'))).toBe(true);
    const dockerfile = await readFile(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)].flatMap((m) =>
      m[1]!.split(/\s+/),
    );
    expect([...new Set(copied)].sort()).toEqual(included.filter((p) => p !== 'Dockerfile').sort());
    for (const kept of ['node_modules', 'cdk.out', '.git', 'dist', 'service/test', '.env']) {
      expect(included.some((p) => kept === p || kept.startsWith(`${p}/`))).toBe(false);
    }
  });

  it('runs the final stage as a non-root user with production dependencies only', async () => {
    const dockerfile = await readFile(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    const runtime = stages.at(-1)!;
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^ENTRYPOINT \["\/app\/scripts\/docker-entrypoint\.sh"\]$/m);
    // Its node_modules come from the stage that installed with --omit=dev.
    const source = /^COPY --from=(\S+) \/app\/node_modules /m.exec(runtime)?.[1];
    const depsStage = stages.find((stage) => stage.split('\n')[0]!.endsWith(` AS ${source}`));
    expect(depsStage).toMatch(/npm ci --omit=dev/);
  });
});
