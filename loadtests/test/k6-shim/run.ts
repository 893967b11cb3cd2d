/**
 * TEST-ONLY command line for the k6 shim (see runtime.ts):
 *
 *   node --import tsx loadtests/test/k6-shim/run.ts <bundle.js> [iterations per scenario] [--default]
 *
 * `--default` runs the default function instead of the scenarios (like `k6 run --iterations n`).
 * `__ENV` is this process's environment, as with `k6 run`. Writes what handleSummary returns
 * (files, stdout), prints iteration errors and crossed thresholds, and exits like k6: 0 passed,
 * 99 thresholds crossed, 1 anything else (an iteration threw, setup failed, bad options).
 */
import { writeFileSync } from 'node:fs';
import { runBundle } from './runtime.ts';

const [bundle, iterations = '1', mode] = process.argv.slice(2);
if (!bundle) {
  console.error('usage: run.ts <bundle.js> [iterations per scenario] [--default]');
  process.exit(2);
}
const env = Object.fromEntries(
  Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
);
try {
  const result = runBundle(bundle, env, Number(iterations), mode === '--default');
  for (const [target, content] of Object.entries(result.outputs)) {
    if (target === 'stdout') process.stdout.write(content);
    else if (target === 'stderr') process.stderr.write(content);
    else writeFileSync(target, content);
  }
  for (const error of result.errors) console.error(`iteration failed: ${error}`);
  for (const threshold of result.crossed) console.error(`threshold crossed: ${threshold}`);
  process.exit(result.errors.length > 0 ? 1 : result.crossed.length > 0 ? 99 : 0);
} catch (err) {
  console.error(`shim run failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
}
