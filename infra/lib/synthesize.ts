import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { App } from 'aws-cdk-lib';
import { cdkJsonContext, exampleContext } from './cdk-context.js';
import { loadConfig } from './config.js';
import type { EnvName, PlinthConfig } from './config.js';
import { addNagChecks } from './nag.js';
import { addPlinthStacks } from './plinth.js';
import type { PlinthStacks } from './plinth.js';

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
  const app = new App({
    outdir: options.outdir,
    context: {
      ...cdkJsonContext(),
      ...exampleContext(options.envName),
      ...options.context,
      env: options.envName,
    },
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
