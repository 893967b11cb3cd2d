import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { ensureDatabase } from '../../src/db/admin.js';
import { REPO_ROOT } from '../support/paths.js';
import { freePort } from '../support/process.js';

const exec = promisify(execFile);

/** `npm run services:up|down` with its state in `stateDir` and the given ports. */
async function services(command: 'up' | 'down', stateDir: string, env: Record<string, string>) {
  const { stdout } = await exec('bash', [path.join(REPO_ROOT, 'scripts/services.sh'), command], {
    env: { ...process.env, PLINTH_SERVICES_DIR: stateDir, ...env },
  });
  return stdout;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.once('connect', () => done(true)).once('error', () => done(false));
  });
}

describe('services.sh', () => {
  let stateDir: string;

  beforeAll(async () => {
    stateDir = await mkdtemp(path.join(os.tmpdir(), 'plinth-services-'));
    // PostgreSQL runs as `postgres` when the tests run as root: it must reach its data dir.
    await chmod(stateDir, 0o755);
  });

  afterAll(() => rm(stateDir, { recursive: true, force: true }));

  it('when PostgreSQL and Redis already listen, then up reuses them and down leaves them running', async () => {
    const env = { PG_PORT: '5432', REDIS_PORT: '6379' };
    const up = await services('up', stateDir, env);
    expect(up).toContain('PostgreSQL: reusing the server already listening on 127.0.0.1:5432');
    expect(up).toContain('Redis: reusing the server already listening on 127.0.0.1:6379');

    const down = await services('down', stateDir, env);
    expect(down).toContain('PostgreSQL: not started by this script; leaving it alone');
    expect(down).toContain('Redis: not started by this script; leaving it alone');
    expect(await listening(5432)).toBe(true);
    expect(await listening(6379)).toBe(true);
  });

  it('when nothing listens, then up starts local servers, a second up reuses them and down stops them', async () => {
    const [pgPort, redisPort] = [await freePort(), await freePort()];
    const env = {
      PG_PORT: String(pgPort),
      REDIS_PORT: String(redisPort),
      PLINTH_SERVICES_MODE: 'local',
    };
    try {
      const up = await services('up', stateDir, env);
      expect(up).toContain(`PostgreSQL: starting`);
      expect(up).toContain(`Redis: starting redis-server on 127.0.0.1:${redisPort}`);

      // The URL the docs give works as is: user postgres, no password, any new database.
      expect(await ensureDatabase(`postgres://postgres@127.0.0.1:${pgPort}/plinth_ops`)).toBe(true);
      const redis = new Redis({ port: redisPort, host: '127.0.0.1', lazyConnect: true });
      await redis.connect();
      expect(await redis.ping()).toBe('PONG');
      redis.disconnect();

      const again = await services('up', stateDir, env);
      expect(again).toContain(`PostgreSQL: already running on 127.0.0.1:${pgPort}`);
      expect(again).toContain(`Redis: already running on 127.0.0.1:${redisPort}`);
    } finally {
      await services('down', stateDir, env);
    }
    expect(await listening(pgPort)).toBe(false);
    expect(await listening(redisPort)).toBe(false);
  }, 120_000);
});
