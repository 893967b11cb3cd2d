import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { App } from 'aws-cdk-lib';
import { cdkJsonContext, exampleContext } from './cdk-context.js';
import { loadConfig } from './config.js';
import type { EnvName, PlinthConfig } from './config.js';
import { addNagChecks } from './nag.js';
import { loadGitHubDeployConfig, loadPipelineConfig } from './pipeline-config.js';
import type { GitHubDeployConfig, PipelineConfig } from './pipeline-config.js';
import { addPlinthStacks } from './plinth.js';
import type { PlinthStacks } from './plinth.js';
import { GITHUB_DEPLOY_STACK_NAME, GitHubDeployStack } from './stacks/github-deploy-stack.js';
import { PIPELINE_STACK_NAME, PipelineStack } from './stacks/pipeline-stack.js';

/** Options for {@link synthesizeEnvironment}. */
export interface SynthesizeOptions {
  /** The environment. */
  readonly envName: EnvName;
  /** Where the cloud assembly goes. */
  readonly outdir: string;
  /** Context on top of cdk.json's and the example HTTPS context. @default none */
  readonly context?: Record<string, string>;
  /** Docker build context of the image. @default the repository root */
  readonly imageDirectory?: string;
}

/** One synthesized environment. */
export interface SynthesizedEnvironment {
  readonly config: PlinthConfig;
  readonly stacks: PlinthStacks;
  readonly assembly: CloudAssembly;
  /** Network, data and app templates, in that order. */
  readonly templates: object[];
}

/**
 * Synthesizes one environment offline the way `npm run synth` checks it: cdk.json's feature flags,
 * the example domain and certificate where HTTPS is required (infra/synth.example-context.json),
 * cdk-nag as a validation plugin (throws on an unacknowledged finding).
 */
export function synthesizeEnvironment(options: SynthesizeOptions): SynthesizedEnvironment {
  const app = offlineApp(options.outdir, {
    ...exampleContext(options.envName),
    ...options.context,
    env: options.envName,
  });
  // Only explicit context applies here: CDK_DEFAULT_* are ignored for determinism.
  const config = loadConfig({ context: (key) => app.node.tryGetContext(key) });
  const stacks = addPlinthStacks(
    app,
    config,
    options.imageDirectory ? { imageDirectory: options.imageDirectory } : {},
  );
  addNagChecks(app);
  const assembly = app.synth();
  const templates = [stacks.network, stacks.data, stacks.app].map(
    (s) => assembly.getStackByName(s.stackName).template as object,
  );
  return { config, stacks, assembly, templates };
}

/** Options for {@link synthesizePipeline}. */
export interface SynthesizePipelineOptions {
  /** Where the cloud assembly goes. */
  readonly outdir: string;
  /** Context on top of cdk.json's and the example pipeline context. @default none */
  readonly context?: Record<string, string>;
  /** Docker build context of the image. @default the repository root */
  readonly imageDirectory?: string;
}

/** The synthesized pipeline app. */
export interface SynthesizedPipeline {
  readonly config: PipelineConfig;
  readonly stack: PipelineStack;
  readonly assembly: CloudAssembly;
}

/**
 * Synthesizes the pipeline app (`-c pipeline=true`) offline like `npm run synth`: the example
 * connection, repository and stage domains of infra/synth.example-context.json, cdk-nag on the
 * pipeline stack and on every stage's stacks.
 */
export function synthesizePipeline(options: SynthesizePipelineOptions): SynthesizedPipeline {
  const app = offlineApp(options.outdir, { ...exampleContext('pipeline'), ...options.context });
  const config = loadPipelineConfig({ context: (key) => app.node.tryGetContext(key) });
  const stack = addPipelineStack(app, config, options.imageDirectory);
  addNagChecks(app);
  return { config, stack, assembly: app.synth() };
}

/** The pipeline stack (`Plinth-Pipeline`) in the pipeline's account and region. */
export function addPipelineStack(
  app: App,
  config: PipelineConfig,
  imageDirectory?: string,
): PipelineStack {
  return new PipelineStack(app, PIPELINE_STACK_NAME, {
    env: { account: config.account, region: config.region },
    pipeline: config,
    description: `Plinth delivery pipeline: ${config.repository}@${config.branch} → staging → approval → prod`,
    ...(imageDirectory ? { imageDirectory } : {}),
  });
}

/** The synthesized GitHub deploy role app. */
export interface SynthesizedGitHubDeploy {
  readonly config: GitHubDeployConfig;
  readonly stack: GitHubDeployStack;
  readonly assembly: CloudAssembly;
}

/** Synthesizes the GitHub deploy role app (`-c githubOidc=true`) offline, with cdk-nag. */
export function synthesizeGitHubDeploy(
  options: SynthesizePipelineOptions,
): SynthesizedGitHubDeploy {
  const app = offlineApp(options.outdir, { ...exampleContext('pipeline'), ...options.context });
  const config = loadGitHubDeployConfig({ context: (key) => app.node.tryGetContext(key) });
  const stack = addGitHubDeployStack(app, config);
  addNagChecks(app);
  return { config, stack, assembly: app.synth() };
}

/** The GitHub deploy role stack (`Plinth-GitHubDeploy`). */
export function addGitHubDeployStack(app: App, config: GitHubDeployConfig): GitHubDeployStack {
  return new GitHubDeployStack(app, GITHUB_DEPLOY_STACK_NAME, {
    env: { account: config.account, region: config.region },
    config,
    description: `Plinth: role for GitHub Actions deploys of ${config.repository}@${config.branch} (OIDC)`,
  });
}

/** An App with cdk.json's feature flags plus `context` (in-process synthesis, no CDK CLI). */
function offlineApp(outdir: string, context: Record<string, unknown>): App {
  return new App({ outdir, context: { ...cdkJsonContext(), ...context } });
}

/** One stage of the synthesized pipeline: its actions in run order, parallel ones together. */
export interface PipelineStageLayout {
  readonly name: string;
  /** Run-order groups; a stack's change-set Prepare and Deploy count as one step (its name). */
  readonly steps: readonly (readonly string[])[];
}

/** The stages and steps of the `AWS::CodePipeline::Pipeline` in a synthesized template. */
export function pipelineLayout(template: object): PipelineStageLayout[] {
  type Action = { Name: string; RunOrder?: number };
  const resources = Object.values(
    (template as { Resources: Record<string, { Type: string; Properties: unknown }> }).Resources,
  );
  const pipeline = resources.find((r) => r.Type === 'AWS::CodePipeline::Pipeline');
  if (!pipeline) throw new Error('the template has no AWS::CodePipeline::Pipeline');
  const stages = (pipeline.Properties as { Stages: { Name: string; Actions: Action[] }[] }).Stages;
  return stages.map((stage) => {
    const names = new Set(stage.Actions.map((a) => a.Name));
    const groups = new Map<number, string[]>();
    for (const action of [...stage.Actions].sort((a, b) => (a.RunOrder ?? 1) - (b.RunOrder ?? 1))) {
      const name = action.Name.replace(/\.(Prepare|Deploy)$/, '');
      if (action.Name.endsWith('.Deploy') && names.has(`${name}.Prepare`)) continue;
      groups.set(action.RunOrder ?? 1, [...(groups.get(action.RunOrder ?? 1) ?? []), name]);
    }
    return { name: stage.Name, steps: [...groups.values()] };
  });
}

/** The layout as lines: `Staging: Snapshot › Plinth-staging-Network › …`. */
export function formatPipelineLayout(layout: readonly PipelineStageLayout[]): string {
  return layout
    .map((stage) => `  ${stage.name}: ${stage.steps.map((g) => g.join(' + ')).join(' › ')}`)
    .join('\n');
}
