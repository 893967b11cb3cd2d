// `npm run synth` is a CI step: it must end by itself (never hang on exit) and print the cost table.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { REPO_ROOT } from '../lib/stacks/app-stack.js';
import { FIXTURE_IMAGE } from './support.js';

describe('npm run synth', () => {
  it('never calls process.exit(), which hung about one run in six while worker threads shut down', () => {
    const code = readFileSync(join(REPO_ROOT, 'infra', 'bin', 'synth.ts'), 'utf8')
      .split('\n')
      .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line))
      .join('\n');
    expect(code).not.toMatch(/process\.exit\(/);
  });

  /** `npm run synth -- <args>` with the test image context. */
  const synth = (...args: string[]) =>
    spawnSync(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'),
        join(REPO_ROOT, 'infra', 'bin', 'synth.ts'),
        ...args,
        `imageDirectory=${FIXTURE_IMAGE}`,
      ],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        timeout: 90_000,
        env: { ...process.env, NODE_OPTIONS: '' },
      },
    );

  it('exits on its own with status 0 and prints the environment and its cost table', () => {
    const run = synth('env=dev');
    expect({ status: run.status, signal: run.signal, stderr: run.stderr }).toEqual({
      status: 0,
      signal: null,
      stderr: '',
    });
    expect(run.stdout).toContain('✔ dev:');
    expect(run.stdout).toMatch(/\| \*\*Total\*\* \| \| \*\*\d+\.\d\d\*\* \|/);
    expect(run.stdout).toContain('OK: synthesized dev');
  });

  it('synthesizes the pipeline too and prints its stages and steps', () => {
    const run = synth('pipeline=true');
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(run.stdout).toContain('✔ pipeline:');
    expect(run.stdout).toMatch(/Staging: Snapshot › Plinth-staging-Network › .* › ScaleOut/);
    expect(run.stdout).toMatch(/Prod: PromoteToProd › Snapshot › .* › K6Smoke/);
  });
});
