// The image asset hash decides whether a deploy re-runs migrations and rolls both services: it
// must change with the code the image holds and with nothing else.
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { App, Stack } from 'aws-cdk-lib';
import { REPO_ROOT, appImageAsset } from '../lib/stacks/app-stack.js';

const SKIPPED = new Set(['node_modules', '.git', 'cdk.out', 'dist', 'coverage', '.local']);
const copy = mkdtempSync(join(tmpdir(), 'plinth-context-'));
cpSync(REPO_ROOT, copy, {
  recursive: true,
  filter: (src) =>
    !relative(REPO_ROOT, src)
      .split('/')
      .some((part) => SKIPPED.has(part)),
});
afterAll(() => rmSync(copy, { recursive: true, force: true }));

let n = 0;
const hash = () => appImageAsset(new Stack(new App(), `S${n++}`), 'Image', copy).assetHash;
const edit = (path: string) => appendFileSync(join(copy, path), '\n');

describe('image build context', () => {
  const original = hash();

  it.each([
    'README.md',
    'docs/infra.md',
    'cdk.json',
    'docker-compose.yml',
    'infra/lib/config.ts',
    'service/test/db/migrations.test.ts',
    'loadtests/README.md',
  ])('editing %s leaves the image asset hash unchanged', (path) => {
    edit(path);
    expect(hash()).toBe(original);
  });

  it.each(['service/src/app.ts', 'worker/src/main.ts', 'package-lock.json', 'Dockerfile'])(
    'editing %s changes it',
    (path) => {
      const before = hash();
      edit(path);
      expect(hash()).not.toBe(before);
    },
  );
});
