/**
 * `npm run synth`: synthesizes every environment into cdk.out/<env> in-process (offline, no AWS
 * credentials), runs cdk-nag on each, prints per-environment seconds and the monthly cost estimate
 * generated from the templates, and exits non-zero on any error or unacknowledged finding.
 * Environments that require HTTPS get the example domain and certificate from
 * infra/synth.example-context.json unless given. Extra context: `npm run synth -- env=prod x=y`.
 *
 * The process ends by draining its event loop (exitCode, never process.exit(): exiting while V8
 * worker threads are still being torn down hung about one run in six). A watchdog makes sure a
 * leftover handle can only fail the run, never hang it.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ENV_NAMES } from '../lib/config.js';
import type { EnvName } from '../lib/config.js';
import { estimateCost, formatCostTable } from '../lib/cost.js';
import { REPO_ROOT } from '../lib/stacks/app-stack.js';
import { synthesizeEnvironment } from '../lib/synthesize.js';

const context = Object.fromEntries(
  process.argv
    .slice(2)
    .filter((a) => a.includes('='))
    .map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]),
);
const only = context.env as EnvName | undefined;
const envs = only ? [only] : [...ENV_NAMES];
const started = performance.now();
let failed = false;

for (const envName of envs) {
  const t0 = performance.now();
  const outdir = join(REPO_ROOT, 'cdk.out', envName);
  rmSync(outdir, { recursive: true, force: true });
  try {
    const { config, assembly, templates } = synthesizeEnvironment({
      envName,
      outdir,
      context,
      ...(context.imageDirectory ? { imageDirectory: context.imageDirectory } : {}),
    });
    const names = assembly.stacks.map((s) => s.stackName).join(', ');
    console.log(`✔ ${envName}: ${secondsSince(t0)} s  → ${outdir} (${names})`);
    console.log(`${formatCostTable(estimateCost(config, templates))}\n`);
  } catch (error) {
    failed = true;
    console.error(`✘ ${envName}: failed after ${secondsSince(t0)} s`);
    console.error(error instanceof Error ? error.message : error);
  }
}
console.log(
  `${failed ? 'FAILED' : 'OK'}: synthesized ${envs.join(', ')} in ${secondsSince(started)} s ` +
    `(${process.uptime().toFixed(1)} s including Node/tsx start-up)`,
);
process.exitCode = failed ? 1 : 0;
setTimeout(() => {
  console.error(
    `synth finished but a handle kept the process alive for 30 s: ${process.getActiveResourcesInfo().join(', ')}`,
  );
  process.kill(process.pid, 'SIGKILL');
}, 30_000).unref();

function secondsSince(t: number): string {
  return ((performance.now() - t) / 1000).toFixed(1);
}
