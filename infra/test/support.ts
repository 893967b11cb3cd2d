import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { cdkJsonContext } from '../lib/cdk-context.js';
import { loadConfig } from '../lib/config.js';
import type { EnvName, PlinthConfig } from '../lib/config.js';
import { addNagChecks } from '../lib/nag.js';
import { addPlinthStacks } from '../lib/plinth.js';
import type { PlinthStacks } from '../lib/plinth.js';

/** Tiny Docker context so tests do not hash the repository. */
export const FIXTURE_IMAGE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'image');

/** One synthesized environment. */
export interface Synthesized {
  readonly config: PlinthConfig;
  readonly stacks: PlinthStacks;
  readonly network: Template;
  readonly data: Template;
  readonly app: Template;
  /** Parsed validation-report.json (cdk-nag and CloudFormation validation). */
  readonly report: ValidationReport;
  /** Whether the stack's termination protection is on, by stack id. */
  readonly terminationProtection: Record<string, boolean>;
}

/** Shape of the parts of validation-report.json the tests read. */
export interface ValidationReport {
  pluginReports: {
    pluginName: string;
    violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[];
    suppressedViolations?: { ruleName: string }[];
  }[];
}

/**
 * Synthesizes one environment exactly like `npm run synth` (cdk.json feature flags, cdk-nag
 * registered; synthesis throws on unacknowledged findings). Call once per test file.
 */
export function synthesize(envName: EnvName, context: Record<string, string> = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), `plinth-${envName}-`));
  const app = new App({ outdir, context: { ...cdkJsonContext(), ...context, env: envName } });
  const config = loadConfig({ context: (key) => app.node.tryGetContext(key) });
  const stacks = addPlinthStacks(app, config, { imageDirectory: FIXTURE_IMAGE });
  addNagChecks(app);
  const assembly = app.synth();
  const template = (name: string) => Template.fromJSON(assembly.getStackByName(name).template);
  const report = JSON.parse(
    readFileSync(join(outdir, 'validation-report.json'), 'utf8'),
  ) as ValidationReport;
  const terminationProtection = Object.fromEntries(
    assembly.stacks.map((s) => [s.stackName, s.terminationProtection === true]),
  );
  return {
    config,
    stacks,
    network: template(stacks.network.stackName),
    data: template(stacks.data.stackName),
    app: template(stacks.app.stackName),
    report,
    terminationProtection,
  };
}

/** Logical ids of all resources of a CloudFormation type. */
export function logicalIds(template: Template, type: string): string[] {
  return Object.keys(template.findResources(type)).sort();
}

/** The one resource of `type` matching `props`, as `[logicalId, resource]`. */
export function onlyResource(
  template: Template,
  type: string,
  props: Record<string, unknown> = {},
): [string, { Properties: Record<string, unknown>; DependsOn?: string[] }] {
  const found = Object.entries(template.findResources(type, props ? { Properties: props } : {}));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0] as [string, { Properties: Record<string, unknown>; DependsOn?: string[] }];
}
