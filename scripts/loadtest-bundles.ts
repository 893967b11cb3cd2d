/**
 * Builds every k6 scenario (loadtests/scenarios/*.ts) into one self-contained script,
 * loadtests/dist/<scenario>.js, that any k6 version runs: CommonJS lowered to ES2015, because k6
 * releases before native ES modules pass ES-module scripts through an old Babel that rejects
 * newer syntax, while CommonJS scripts reach the runtime as they are. `k6` and `k6/*` stay
 * `require` calls (k6 provides them); everything else is inlined.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SCENARIOS_DIR = path.join(REPO_ROOT, 'loadtests', 'scenarios');
export const DIST_DIR = path.join(REPO_ROOT, 'loadtests', 'dist');

export interface Bundle {
  scenario: string;
  /** Absolute path of the built script. */
  file: string;
  /** Every module the built script still imports (esbuild's own account of the output). */
  imports: string[];
}

/** Scenario names: the files in loadtests/scenarios, without `.ts`. */
export function scenarioNames(): string[] {
  return readdirSync(SCENARIOS_DIR)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -'.ts'.length))
    .sort();
}

export async function buildBundles(outdir: string = DIST_DIR): Promise<Bundle[]> {
  const names = scenarioNames();
  const result = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: Object.fromEntries(names.map((n) => [n, path.join(SCENARIOS_DIR, `${n}.ts`)])),
    outdir,
    bundle: true,
    format: 'cjs',
    target: 'es2015',
    platform: 'neutral',
    external: ['k6', 'k6/*'],
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
    banner: {
      js: '// Built by `npm run loadtest:build` from loadtests/scenarios: run it with k6, edit the source.',
    },
  });
  return names.map((scenario) => {
    const file = path.join(outdir, `${scenario}.js`);
    const output = result.metafile.outputs[path.relative(REPO_ROOT, file)];
    if (!output) throw new Error(`esbuild did not report ${file}`);
    return { scenario, file, imports: output.imports.map((i) => i.path) };
  });
}
