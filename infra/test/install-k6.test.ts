// scripts/install-k6.sh, what the pipeline's k6 steps install k6 with: the pinned release, and
// nothing at all unless the archive has the release's published SHA-256.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { REPO_ROOT } from '../lib/stacks/app-stack.js';

const SCRIPT = join(REPO_ROOT, 'scripts', 'install-k6.sh');
const exec = promisify(execFile);

describe('scripts/install-k6.sh', () => {
  it('refuses an archive whose SHA-256 is not the pinned release’s, and installs nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plinth-k6-'));
    const archive = join(dir, 'k6.tar.gz');
    // A real tar.gz with a k6 in it: only the checksum can stop it.
    writeFileSync(join(dir, 'k6'), '#!/bin/sh\necho "k6 v0.0.0-not-k6"\n', { mode: 0o755 });
    await exec('tar', ['-czf', archive, '-C', dir, 'k6']);
    const bin = join(dir, 'bin');
    const failure = await exec('bash', [SCRIPT, bin], {
      env: { PATH: process.env.PATH, HOME: dir, K6_ARCHIVE: archive },
    }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(
      process.platform === 'linux' && process.arch === 'x64'
        ? /does not have the SHA-256 of k6 2\.3\.0 .*: not installed/
        : /only the linux x86_64 archive is pinned/,
    );
    expect(existsSync(join(bin, 'k6'))).toBe(false);
  });

  it('checks the archive before unpacking it, against a full SHA-256', () => {
    const script = readFileSync(SCRIPT, 'utf8');
    expect(script).toMatch(/^readonly K6_SHA256=[0-9a-f]{64}$/m);
    expect(script.indexOf('sha256sum --check')).toBeGreaterThan(-1);
    expect(script.indexOf('sha256sum --check')).toBeLessThan(script.indexOf('tar -xzf'));
  });
});
