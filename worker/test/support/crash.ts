import { spawn } from 'node:child_process';
import { testEnv } from '../../../service/test/support/env.js';
import { REPO_ROOT } from '../../../service/test/support/paths.js';
import type { TestServer } from '../../../service/test/support/server.js';

/**
 * Runs the crash worker (./crash-worker.ts) on `server`'s database and key prefix until it kills
 * itself at `point` (after `skip` passes); resolves with the signal it died of. `env`: more
 * settings (the Redis, the lock duration, …).
 */
export function crashAt(
  server: TestServer,
  point: string,
  env: Record<string, string> = {},
  skip = 0,
): Promise<NodeJS.Signals | null> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'worker/test/support/crash-worker.ts'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      ...testEnv(server.db.url, {
        REDIS_KEY_PREFIX: server.config.REDIS_KEY_PREFIX,
        ...env,
        CRASH_AT: point,
        CRASH_SKIP: String(skip),
      }),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return new Promise((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));
}
