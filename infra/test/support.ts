import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Template } from 'aws-cdk-lib/assertions';
import type { EnvName, PlinthConfig } from '../lib/config.js';
import type { PipelineConfig } from '../lib/pipeline-config.js';
import type { PlinthStacks } from '../lib/plinth.js';
import type { PipelineStack } from '../lib/stacks/pipeline-stack.js';
import { synthesizeEnvironment, synthesizePipeline } from '../lib/synthesize.js';

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

/** Open (unacknowledged) findings of every validation plugin, by plugin; `{}` when clean. */
export function openFindings(report: ValidationReport): Record<string, string[]> {
  return Object.fromEntries(
    report.pluginReports
      .filter((plugin) => plugin.violations.length > 0)
      .map((plugin) => [plugin.pluginName, plugin.violations.map((v) => v.ruleName)]),
  );
}

/**
 * Synthesizes one environment exactly like `npm run synth` (cdk.json feature flags, the example
 * HTTPS context, cdk-nag registered; synthesis throws on unacknowledged findings). Call once per
 * test file.
 */
export function synthesize(envName: EnvName, context: Record<string, string> = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), `plinth-${envName}-`));
  const { config, stacks, assembly } = synthesizeEnvironment({
    envName,
    outdir,
    context,
    imageDirectory: FIXTURE_IMAGE,
  });
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

/** Logical ids `id` depends on, directly or through others (DependsOn, Ref, Fn::GetAtt). */
export function dependencyClosure(template: Template, id: string): Set<string> {
  const resources = template.toJSON().Resources as Record<
    string,
    { DependsOn?: string | string[]; Properties?: unknown }
  >;
  const direct = (rid: string): string[] => {
    const r = resources[rid];
    if (!r) return [];
    const deps = new Set<string>([r.DependsOn ?? []].flat());
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (typeof o.Ref === 'string' && resources[o.Ref]) deps.add(o.Ref);
        const att = o['Fn::GetAtt'];
        if (Array.isArray(att) && typeof att[0] === 'string' && resources[att[0]]) deps.add(att[0]);
        Object.values(o).forEach(walk);
      }
    };
    walk(r.Properties);
    return [...deps];
  };
  const seen = new Set<string>();
  const stack = direct(id);
  while (stack.length > 0) {
    const next = stack.pop() as string;
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...direct(next));
  }
  return seen;
}

/** The synthesized pipeline app: the pipeline stack and each stage's stacks, by stack name. */
export interface SynthesizedPipelineApp {
  readonly config: PipelineConfig;
  readonly stack: PipelineStack;
  readonly pipeline: Template;
  /** Every stage's stacks (`Plinth-staging-App`, …). */
  readonly stages: Readonly<Record<string, Template>>;
  readonly report: ValidationReport;
}

/**
 * Synthesizes the pipeline app exactly like `npm run synth` (example settings, cdk-nag
 * registered; synthesis throws on unacknowledged findings). Call once per test file.
 */
export function synthesizePipelineApp(
  context: Record<string, string> = {},
): SynthesizedPipelineApp {
  const outdir = mkdtempSync(join(tmpdir(), 'plinth-pipeline-'));
  const { config, stack, assembly } = synthesizePipeline({
    outdir,
    context,
    imageDirectory: FIXTURE_IMAGE,
  });
  const stages: Record<string, Template> = {};
  for (const stage of Object.values(stack.stages)) {
    for (const artifact of stage.synth().stacks) {
      stages[artifact.stackName] = Template.fromJSON(artifact.template);
    }
  }
  return {
    config,
    stack,
    pipeline: Template.fromJSON(assembly.getStackByName(stack.stackName).template),
    stages,
    report: JSON.parse(
      readFileSync(join(outdir, 'validation-report.json'), 'utf8'),
    ) as ValidationReport,
  };
}
