import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { compileBuild, startBuilt } from '../support/build.js';
import { ApiClient, uniqueUser } from '../support/client.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { TEST_REDIS_URL, testEnv, uniqueName } from '../support/env.js';
import { REPO_ROOT } from '../support/paths.js';
import { freePort } from '../support/process.js';

const exec = promisify(execFile);

/**
 * What the runtime stage of the Dockerfile does, without Docker: production dependencies only
 * (`npm ci --omit=dev`) and the compiled `dist/`, in a directory outside the repository so
 * nothing resolves from the repository's full node_modules.
 */
describe('production build', () => {
  let dir: string;
  let db: TestDatabase | undefined;
  const children: ChildProcess[] = [];
  // npm and tsc must run on the same Node as the tests (24), whatever `node` PATH finds first.
  const toolEnv = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'plinth-prod-'));
    for (const ancestor of [path.dirname(dir), path.parse(dir).root]) {
      if (existsSync(path.join(ancestor, 'node_modules'))) {
        throw new Error(`${ancestor}/node_modules exists: modules would resolve from it`);
      }
    }
    await Promise.all(
      ['package.json', 'package-lock.json'].map((f) =>
        copyFile(path.join(REPO_ROOT, f), path.join(dir, f)),
      ),
    );
    // Install and compile side by side; each is most of this test's time.
    await Promise.all([
      exec('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error'], {
        cwd: dir,
        env: { ...toolEnv, NODE_ENV: 'production' },
        maxBuffer: 16 * 1024 * 1024,
        // As the Dockerfile does: TypeScript comes along as valibot's optional peer, unused.
      }).then(() =>
        rm(path.join(dir, 'node_modules/typescript'), { recursive: true, force: true }),
      ),
      compileBuild(dir),
    ]);
    db = await createTestDatabase({ migrate: false });
  }, 300_000);

  afterAll(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('installs no build or test tooling', () => {
    const installed = (name: string) => existsSync(path.join(dir, 'node_modules', name));
    expect(installed('koa')).toBe(true);
    for (const devOnly of ['typescript', 'tsx', 'jest', '@swc/core', 'aws-cdk-lib', 'eslint']) {
      expect({ devOnly, installed: installed(devOnly) }).toEqual({ devOnly, installed: false });
    }
  });

  it('compiles every entry point the image runs', () => {
    // The targets of scripts/docker-entrypoint.sh.
    for (const entry of [
      'service/src/server.js',
      'service/src/tracing.js',
      'worker/src/main.js',
      'service/src/db/migrate.js',
      'service/src/db/seed.js',
    ]) {
      expect({ entry, compiled: existsSync(path.join(dir, 'dist', entry)) }).toEqual({
        entry,
        compiled: true,
      });
    }
  });

  it('migrates a fresh database from dist', async () => {
    const { stdout } = await exec(
      process.execPath,
      [path.join(dir, 'dist/service/src/db/migrate.js')],
      { cwd: dir, env: testEnv(db!.url, { NODE_ENV: 'production', LOG_LEVEL: 'info' }) },
    );
    const done = stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { applied?: string[] })
      .find((line) => line.applied);
    expect(done?.applied?.length).toBeGreaterThan(0);
  }, 60_000);

  /** Starts `dist/<entry>` on the production install; resolves once stdout shows `readyText`. */
  async function startFromDist(entry: string, env: Record<string, string>, readyText: string) {
    const proc = await startBuilt(
      dir,
      entry,
      testEnv(db!.url, { NODE_ENV: 'production', LOG_LEVEL: 'info', ...env }),
      readyText,
    );
    children.push(proc.child);
    return proc;
  }

  it('serves readiness and registration from dist, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const server = await startFromDist(
      'service/src/server.js',
      { HOST: '127.0.0.1', PORT: String(port) },
      'service listening',
    );

    const base = `http://127.0.0.1:${port}`;
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(200);
    const registered = await new ApiClient(`${base}/api`).post('/users', {
      body: { user: uniqueUser('prod') },
    });
    expect(registered.status).toBe(201);

    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  }, 60_000);

  it('runs the worker from dist, and exits 0 on SIGTERM', async () => {
    const prefix = `${uniqueName('prodworker')}:`;
    const worker = await startFromDist(
      'worker/src/main.js',
      { REDIS_KEY_PREFIX: prefix },
      'worker ready',
    );
    // Its queues live in Redis under its prefix. Checking that also lets the worker install its
    // SIGTERM handler, which it does only after logging "worker ready".
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const keys = await redis.keys(`${prefix}*`);
      expect(keys.length).toBeGreaterThan(0);
      worker.child.kill('SIGTERM');
      expect((await worker.exited).code).toBe(0);
      await redis.del(...(await redis.keys(`${prefix}*`)));
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});
