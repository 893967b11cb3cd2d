/**
 * `npm run synth`: synthesizes every environment into cdk.out/<env> in-process (offline, no AWS
 * credentials), then the delivery pipeline (cdk.out/pipeline) and the GitHub deploy role
 * (cdk.out/github-oidc); runs cdk-nag on each, prints per-target seconds, each environment's
 * monthly cost estimate generated from the templates and the pipeline's stages and steps, and
 * exits non-zero on any error or unacknowledged finding. Environments that require HTTPS, and the
 * pipeline, get the example settings of infra/synth.example-context.json unless given.
 *
 *   npm run synth                     # dev, staging, prod, pipeline, github-oidc
 *   npm run synth -- env=prod x=y     # one environment; key=value pairs become CDK context
 *   npm run synth -- pipeline=true    # only the pipeline (githubOidc=true: only the role)
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
import {
  formatPipelineLayout,
  pipelineLayout,
  synthesizeEnvironment,
  synthesizeGitHubDeploy,
  synthesizePipeline,
} from '../lib/synthesize.js';

const context = Object.fromEntries(
  process.argv
    .slice(2)
    .filter((a) => a.includes('='))
    .map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]),
);
const imageDirectory = context.imageDirectory ? { imageDirectory: context.imageDirectory } : {};

/** One thing to synthesize: its cdk.out directory name and what to print once it is done. */
type Target = [name: string, synthesize: (outdir: string) => string];
const environment = (envName: EnvName): Target => [
  envName,
  (outdir) => {
    const { config, assembly, templates } = synthesizeEnvironment({
      envName,
      outdir,
      context,
      ...imageDirectory,
    });
    const names = assembly.stacks.map((s) => s.stackName).join(', ');
    return `(${names})\n${formatCostTable(estimateCost(config, templates))}\n`;
  },
];
const pipeline: Target = [
  'pipeline',
  (outdir) => {
    const { stack, assembly } = synthesizePipeline({ outdir, context, ...imageDirectory });
    const template = assembly.getStackByName(stack.stackName).template as object;
    return `(${stack.stackName} and its stages' stacks)\n${formatPipelineLayout(pipelineLayout(template))}\n`;
  },
];
const githubOidc: Target = [
  'github-oidc',
  (outdir) => `(${synthesizeGitHubDeploy({ outdir, context }).stack.stackName})\n`,
];

const targets: Target[] = context.env
  ? [environment(context.env as EnvName)]
  : context.pipeline === 'true'
    ? [pipeline]
    : context.githubOidc === 'true'
      ? [githubOidc]
      : [...ENV_NAMES.map(environment), pipeline, githubOidc];

const started = performance.now();
let failed = false;
for (const [name, synthesize] of targets) {
  const t0 = performance.now();
  const outdir = join(REPO_ROOT, 'cdk.out', name);
  rmSync(outdir, { recursive: true, force: true });
  try {
    const summary = synthesize(outdir);
    console.log(`✔ ${name}: ${secondsSince(t0)} s  → ${outdir} ${summary}`);
  } catch (error) {
    failed = true;
    console.error(`✘ ${name}: failed after ${secondsSince(t0)} s`);
    console.error(error instanceof Error ? error.message : error);
  }
}
console.log(
  `${failed ? 'FAILED' : 'OK'}: synthesized ${targets.map(([name]) => name).join(', ')} in ` +
    `${secondsSince(started)} s (${process.uptime().toFixed(1)} s including Node/tsx start-up)`,
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
