/**
 * `npm run loadtest -- <profile> [scenario] [k6 run options…]`: builds the k6 bundles and runs
 * one with the k6 on PATH. Without k6 it says so, where the bundle is and how to get k6, and
 * exits 1 (nothing was tested). `npm run loadtest:build` (`--build-only`) only builds.
 *
 * The profile and scenario are checked by the script itself when k6 loads it (a wrong name stops
 * it with the list of valid ones). BASE_URL defaults to the `npm run dev` address, said aloud.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { buildBundles, REPO_ROOT } from './loadtest-bundles.js';

const LOCAL_BASE_URL = 'http://127.0.0.1:3000';
const INSTALL_URL = 'https://grafana.com/docs/k6/latest/set-up/install-k6/';

const args = process.argv.slice(2);
const bundles = await buildBundles();
const relative = (file: string) => path.relative(process.cwd(), file) || file;

if (args[0] === '--build-only') {
  for (const b of bundles) console.log(`built ${relative(b.file)}`);
  process.exit(0);
}

const [profile = 'smoke', second, ...rest] = args;
const scenario = second && !second.startsWith('-') ? second : 'mixed';
const k6Args = second && second.startsWith('-') ? [second, ...rest] : rest;
const bundle = bundles.find((b) => b.scenario === scenario);
if (!bundle) {
  console.error(
    `loadtest: no scenario "${scenario}"; scenarios: ${bundles.map((b) => b.scenario).join(', ')}`,
  );
  process.exit(2);
}

const baseUrl = process.env.BASE_URL || LOCAL_BASE_URL;
if (!process.env.BASE_URL) {
  console.log(`loadtest: BASE_URL is not set; using ${LOCAL_BASE_URL} (npm run dev)`);
}

if (spawnSync('k6', ['version'], { stdio: 'ignore' }).error) {
  console.error(
    [
      'loadtest: k6 is not installed (no `k6` on PATH), so nothing was run.',
      `The bundle is built: ${relative(bundle.file)} (runs on any k6 version).`,
      `Install k6 (${INSTALL_URL}: Homebrew, the dl.k6.io Debian/RPM`,
      'repositories, winget, a release binary or the grafana/k6 image), then either run this',
      'command again or run the bundle yourself:',
      `  k6 run -e PROFILE=${profile} -e BASE_URL=${baseUrl} ${relative(bundle.file)}`,
    ].join('\n'),
  );
  process.exit(1);
}

// handleSummary writes here; k6 does not create directories.
mkdirSync(path.resolve(REPO_ROOT, process.env.RESULTS_DIR || 'loadtests/results'), {
  recursive: true,
});
const k6 = spawn('k6', ['run', ...k6Args, bundle.file], {
  cwd: REPO_ROOT,
  stdio: 'inherit',
  env: { ...process.env, PROFILE: profile, BASE_URL: baseUrl },
});
// Ctrl-C reaches k6 too (same process group); k6 stops gracefully and still writes its summary.
process.on('SIGINT', () => undefined);
k6.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
