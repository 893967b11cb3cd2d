/**
 * The bundles k6 runs: one per scenario, importing nothing but k6's own modules (k6 is not Node
 * and has no npm), in a form every k6 version loads. Also `npm run loadtest` without k6.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildBundles, scenarioNames, type Bundle } from '../../scripts/loadtest-bundles.js';
import { runTs } from './support/run-ts.ts';

const isK6Module = (specifier: string) => specifier === 'k6' || specifier.startsWith('k6/');
let outdir: string;
let bundles: Bundle[];

beforeAll(async () => {
  outdir = mkdtempSync(path.join(tmpdir(), 'plinth-k6-bundles-'));
  bundles = await buildBundles(outdir);
});

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('loadtest bundles', () => {
  it('builds one bundle per scenario file', () => {
    expect(scenarioNames()).toEqual(['browse', 'graphql', 'mixed', 'write-heavy']);
    expect(readdirSync(outdir).sort()).toEqual(scenarioNames().map((s) => `${s}.js`));
  });

  it.each(['browse', 'graphql', 'mixed', 'write-heavy'])(
    '%s imports only k6 and k6/* modules, as CommonJS require calls of string literals',
    (scenario) => {
      const bundle = bundles.find((b) => b.scenario === scenario)!;
      // esbuild's own account of what the output still imports…
      expect(bundle.imports.filter((i) => !isK6Module(i))).toEqual([]);
      expect(bundle.imports).toEqual(expect.arrayContaining(['k6', 'k6/http', 'k6/metrics']));
      // …and the text itself: every require names a k6 module, and nothing else loads code.
      const code = readFileSync(bundle.file, 'utf8');
      const requires = [...code.matchAll(/\brequire\s*\(([^)]*)\)/g)].map((m) => m[1]!.trim());
      expect(requires.length).toBeGreaterThan(0);
      for (const argument of requires) {
        expect(argument).toMatch(/^"k6(\/[a-z0-9-]+)*"$/);
      }
      expect(code).not.toMatch(/^\s*(import|export)\s/m);
      expect(code).not.toMatch(/\bimport\s*\(/);
      // It is a plain script (CommonJS), which is what older k6 runs without transpiling.
      expect(() => new Function('require', 'module', 'exports', code)).not.toThrow();
    },
  );
});

describe('npm run loadtest without k6', () => {
  it('builds the bundle, then says k6 is missing, how to get it and how to run the bundle, and exits 1', async () => {
    // A PATH with node only: no k6, whatever the machine has.
    const { code, stderr } = await runTs('scripts/loadtest.ts', ['stress', 'browse'], {
      PATH: path.dirname(process.execPath),
      BASE_URL: 'https://staging.example.com',
    });
    expect(code).toBe(1);
    expect(stderr).toContain('k6 is not installed (no `k6` on PATH), so nothing was run.');
    expect(stderr).toContain('The bundle is built: loadtests/dist/browse.js');
    expect(stderr).toContain('https://grafana.com/docs/k6/latest/set-up/install-k6/');
    expect(stderr).toContain(
      'k6 run -e PROFILE=stress -e BASE_URL=https://staging.example.com loadtests/dist/browse.js',
    );
  }, 60_000);
});
