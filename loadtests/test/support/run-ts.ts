import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../../../service/test/support/paths.js';

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a TypeScript entry point of this repo (path from the repo root) in its own Node process,
 * via tsx, with exactly `env` (plus PATH unless given) and waits for it to exit.
 */
export async function runTs(
  entry: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<Finished> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, entry), ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}
