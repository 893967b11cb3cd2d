import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { REPO_ROOT } from './support/paths.js';

/**
 * The Node version the project needs, and what `npm test` does on a machine whose Node is older
 * (scripts/with-node24.sh): it brings Node 24 up as .ci/run does, or stops at once saying what is
 * needed and how to get it. Fake `node` and `npm` programs stand in for the machine's.
 */

const WITH_NODE = path.join(REPO_ROOT, 'scripts/with-node24.sh');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile('bash', [WITH_NODE, ...command], { env }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
/** Writes an executable script `name` into `folder` that prints `output` and exits `code`. */
async function fake(folder: string, name: string, output: string, code = 0): Promise<void> {
  await mkdir(folder, { recursive: true });
  const file = path.join(folder, name);
  await writeFile(file, `#!/bin/sh\necho '${output}'\nexit ${code}\n`);
  await chmod(file, 0o755);
}

/** A PATH with the fakes first, then only the system's basic tools (no real node or npm). */
const pathWith = (folder: string) => `${folder}:/usr/bin:/bin`;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'plinth-node-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('Node version', () => {
  it('runs the tests on the Node major that package.json engines asks for', () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(pkg.engines.node).toBe('>=24 <25');
    expect(process.versions.node.split('.')[0]).toBe('24');
    expect(readFileSync(path.join(REPO_ROOT, '.nvmrc'), 'utf8').trim()).toBe('24');
  });

  it('when node is 24 already, then the command runs as it is', async () => {
    const bin = path.join(dir, 'node24');
    await fake(bin, 'node', 'v24.3.0');
    const res = await run(['node', '-v'], { PATH: pathWith(bin), HOME: dir });
    expect(res).toEqual({ code: 0, stdout: 'v24.3.0\n', stderr: '' });
  });

  it('when node is 20 and Node 24 is cached, then the command runs on Node 24', async () => {
    const system = path.join(dir, 'system20');
    await fake(system, 'node', 'v20.19.2');
    const cache = path.join(dir, 'cache');
    await fake(path.join(cache, 'node_modules/.bin'), 'node', 'v24.21.0');
    const res = await run(['node', '-v'], {
      PATH: pathWith(system),
      HOME: dir,
      PLINTH_NODE_DIR: cache,
    });
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('v24.21.0\n');
  });

  it('when node is 20 and Node 24 cannot be installed, then it stops at once naming Node 24 and the fix', async () => {
    const system = path.join(dir, 'offline20');
    await fake(system, 'node', 'v20.19.2');
    await fake(system, 'npm', 'npm ERR! network unreachable', 1);
    const res = await run(['node', '-e', 'never runs'], {
      PATH: pathWith(system),
      HOME: dir,
      PLINTH_NODE_DIR: path.join(dir, 'empty-cache'),
    });
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('this needs Node 24 (package.json engines: >=24 <25)');
    expect(res.stderr).toContain('node here is v20.19.2');
    expect(res.stderr).toMatch(/fix: install Node 24 .*nvm install/);
    expect(res.stderr).toContain('source scripts/ensure-node.sh');
  });
});
