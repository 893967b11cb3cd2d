// The delivery pipeline (`-c pipeline=true`), synthesized once like `npm run synth` does it: what
// runs where and in which order, what each step may do, and that its stages are the very stacks
// `cdk deploy -c env=<name>` deploys.
import { describe, expect, it } from '@jest/globals';
import { Match } from 'aws-cdk-lib/assertions';
import type { Template } from 'aws-cdk-lib/assertions';
import { K6_SETUP_COMMANDS, NODE_SETUP_COMMANDS } from '../lib/constructs/release-check.js';
import { LOGICAL_IDS, SYNTH_COMMANDS } from '../lib/stacks/pipeline-stack.js';
import { pipelineLayout } from '../lib/synthesize.js';
import {
  logicalIds,
  onlyResource,
  openFindings,
  synthesize,
  synthesizePipelineApp,
} from './support.js';

const app = synthesizePipelineApp();
const { pipeline, stages, config } = app;
const ACCOUNT = config.account;
const REGION = config.region;

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };
type Action = {
  Name: string;
  RunOrder: number;
  ActionTypeId: { Provider: string };
  Configuration?: Record<string, unknown>;
  RoleArn?: { 'Fn::GetAtt': [string, string] };
};
const pipelineResource = onlyResource(pipeline, 'AWS::CodePipeline::Pipeline')[1];
const pipelineStages = pipelineResource.Properties.Stages as { Name: string; Actions: Action[] }[];
const action = (stage: string, name: string): Action => {
  const found = pipelineStages.find((s) => s.Name === stage)?.Actions.find((a) => a.Name === name);
  if (!found) throw new Error(`no action ${stage}/${name}`);
  return found;
};

/** Every statement of the policies attached to a role (by the role's logical id). */
function statementsOf(template: Template, roleId: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}
const actions = (statements: Statement[]) => statements.flatMap((s) => [s.Action].flat()).sort();
const projectNamed = (template: Template, name: string) =>
  onlyResource(template, 'AWS::CodeBuild::Project', { Name: name });
const buildCommands = (project: { Properties: Record<string, unknown> }): string[] =>
  (
    JSON.parse((project.Properties.Source as { BuildSpec: string }).BuildSpec) as {
      phases: { build: { commands: string[] } };
    }
  ).phases.build.commands;

describe('the pipeline', () => {
  it('runs on pushes to the branch through the CodeConnections connection, on CodePipeline V2', () => {
    expect(pipelineResource.Properties.PipelineType).toBe('V2');
    expect(action('Source', 'GitHub')).toMatchObject({
      ActionTypeId: { Provider: 'CodeStarSourceConnection' },
      Configuration: {
        ConnectionArn: config.connectionArn,
        FullRepositoryId: 'example/plinth',
        BranchName: 'main',
        DetectChanges: true,
      },
    });
  });

  it('synthesizes, updates itself, publishes the image, then staging, approval and prod, in that order', () => {
    const layout = pipelineLayout(pipeline.toJSON());
    expect(layout.map((s) => s.name)).toEqual([
      'Source',
      'Build',
      'UpdatePipeline',
      'Assets',
      'Staging',
      'Prod',
    ]);
    const steps = Object.fromEntries(layout.map((s) => [s.name, s.steps]));
    expect(steps.UpdatePipeline).toEqual([['SelfMutate']]);
    expect(steps.Assets?.flat()).toContain('Image');
    // One step at a time: the snapshot before any stack, Network → Data → App (with the migration
    // runner) → Checks, then the checks in sequence; the approval comes before prod's snapshot.
    expect(steps.Staging).toEqual([
      ['Snapshot'],
      ['Plinth-staging-Network'],
      ['Plinth-staging-Data'],
      ['Plinth-staging-App'],
      ['Plinth-staging-Checks'],
      ['RealWorld'],
      ['K6Average'],
      ['ScaleOut'],
    ]);
    expect(steps.Prod).toEqual([
      ['PromoteToProd'],
      ['Snapshot'],
      ['Plinth-prod-Network'],
      ['Plinth-prod-Data'],
      ['Plinth-prod-App'],
      ['Plinth-prod-Checks'],
      ['K6Smoke'],
    ]);
    expect(action('Prod', 'PromoteToProd').ActionTypeId.Provider).toBe('Manual');
  });

  it("synth runs lint, typecheck, the no-database tests and the pipeline app's synth, with no database reachable", () => {
    const [, synth] = onlyResource(pipeline, 'AWS::CodeBuild::Project', {
      Source: Match.objectLike({ BuildSpec: Match.stringLikeRegexp('test:nodb') }),
    });
    expect(buildCommands(synth)).toEqual([...SYNTH_COMMANDS]);
    expect(SYNTH_COMMANDS.slice(-4)).toEqual([
      'npm run lint',
      'npm run typecheck',
      'npm run test:nodb',
      'npx cdk synth -c pipeline=true',
    ]);
    const environment = synth.Properties.Environment as {
      EnvironmentVariables: { Name: string; Value: string }[];
    };
    expect(environment.EnvironmentVariables).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Name: 'TEST_DATABASE_URL',
          Value: expect.stringContaining(':1/'),
        }),
      ]),
    );
    const source = synth.Properties.Source as { BuildSpec: string };
    expect(JSON.parse(source.BuildSpec).artifacts).toMatchObject({
      'base-directory': 'cdk.out',
    });
  });

  it('keeps the logical IDs of its artifact bucket and build log group', () => {
    expect(logicalIds(pipeline, 'AWS::S3::Bucket')).toEqual([LOGICAL_IDS.artifactBucket]);
    expect(logicalIds(pipeline, 'AWS::Logs::LogGroup')).toEqual([LOGICAL_IDS.buildLogs]);
    pipeline.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        BucketName: `plinth-pipeline-${ACCOUNT}-${REGION}`,
        PublicAccessBlockConfiguration: Match.objectLike({ BlockPublicAcls: true }),
      }),
    });
  });

  it('passes cdk-nag on the pipeline and every stage stack with zero open findings', () => {
    // Synthesis would already have thrown on an error-level finding; warnings must be zero too.
    expect(app.report.pluginReports.length).toBeGreaterThan(0);
    expect(openFindings(app.report)).toEqual({});
  });
});

describe.each(['staging', 'prod'] as const)('the %s snapshot step', (envName) => {
  const stage = envName === 'staging' ? 'Staging' : 'Prod';
  const [projectId, project] = onlyResource(pipeline, 'AWS::CodeBuild::Project', {
    Source: Match.objectLike({ BuildSpec: Match.stringLikeRegexp(`plinth-${envName}-db`) }),
  });
  const roleId = (project.Properties.ServiceRole as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
  const rds = statementsOf(pipeline, roleId).filter((s) =>
    [s.Action].flat().some((a) => a.startsWith('rds:')),
  );
  const db = `arn:aws:rds:${REGION}:${ACCOUNT}:db:plinth-${envName}-db`;
  const snapshots = `arn:aws:rds:${REGION}:${ACCOUNT}:snapshot:plinth-${envName}-db-release-*`;

  it('runs the snapshot program before the stacks, keeping the configured number', () => {
    expect(action(stage, 'Snapshot').Configuration?.ProjectName).toEqual({ Ref: projectId });
    expect(buildCommands(project)).toEqual([
      ...NODE_SETUP_COMMANDS,
      `npx tsx infra/release/snapshot.ts --instance plinth-${envName}-db --retain ${config.snapshotRetain} --region ${REGION}`,
    ]);
  });

  it('may touch only its own instance and its release snapshots, with the calls the program makes', () => {
    const byAction: Record<string, unknown[]> = {};
    for (const s of rds) {
      for (const a of [s.Action].flat()) byAction[a] = [s.Resource].flat();
    }
    expect(byAction).toEqual({
      'rds:DescribeDBInstances': [db],
      'rds:CreateDBSnapshot': [db, snapshots],
      'rds:DescribeDBSnapshots': [db, snapshots],
      'rds:AddTagsToResource': [snapshots],
      'rds:DeleteDBSnapshot': [snapshots],
    });
    // Nothing else of AWS beyond the log, report groups and the source artifact.
    const others = actions(statementsOf(pipeline, roleId)).filter(
      (a) => !/^(rds|logs|s3):/.test(a) && !a.startsWith('codebuild:'),
    );
    expect(others).toEqual([]);
  });
});

describe('the checks of each stage', () => {
  const staging = stages['Plinth-staging-Checks']!;
  const prod = stages['Plinth-prod-Checks']!;

  it.each([
    ['Staging', 'RealWorld', 'plinth-staging-realworld'],
    ['Staging', 'K6Average', 'plinth-staging-k6-average'],
    ['Staging', 'ScaleOut', 'plinth-staging-scale-out'],
    ['Prod', 'K6Smoke', 'plinth-prod-k6-smoke'],
  ])('%s %s starts the project %s and may start nothing else', (stage, name, projectName) => {
    const step = action(stage, name);
    expect(step.ActionTypeId.Provider).toBe('CodeBuild');
    expect(step.Configuration?.ProjectName).toBe(projectName);
    const roleId = step.RoleArn?.['Fn::GetAtt'][0] ?? '';
    expect(statementsOf(pipeline, roleId)).toEqual([
      expect.objectContaining({
        Action: ['codebuild:BatchGetBuilds', 'codebuild:StartBuild', 'codebuild:StopBuild'],
        Resource: `arn:aws:codebuild:${REGION}:${ACCOUNT}:project/${projectName}`,
      }),
    ]);
  });

  it('run as CodeBuild projects in the private subnets of the stage VPC, HTTPS out only', () => {
    const privateSubnets = (envName: string) =>
      Object.keys(stages[`Plinth-${envName}-Network`]!.findResources('AWS::EC2::Subnet')).filter(
        (id) => id.includes('Private'),
      );
    expect(privateSubnets('staging')).toHaveLength(config.stages.staging.availabilityZones.length);
    for (const [envName, template, count] of [
      ['staging', staging, 3],
      ['prod', prod, 1],
    ] as const) {
      const projects = Object.values(template.findResources('AWS::CodeBuild::Project'));
      expect(projects).toHaveLength(count);
      for (const project of projects) {
        const subnets = JSON.stringify(
          (project.Properties.VpcConfig as { Subnets: unknown }).Subnets,
        );
        // Weak references to the network stack's outputs, one per private subnet, nothing else.
        for (const id of privateSubnets(envName)) expect(subnets).toContain(`Ref${id}`);
        expect(subnets).not.toMatch(/Public|Isolated/);
      }
      template.hasResourceProperties('AWS::EC2::SecurityGroup', {
        SecurityGroupEgress: [Match.objectLike({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443 })],
      });
      template.resourcePropertiesCountIs('AWS::EC2::SecurityGroup', {}, 1);
    }
  });

  it('test the stage URL: RealWorld, then the k6 average gate, then stress with scale-out', () => {
    const url = `https://${config.stages.staging.domain?.domainName}`;
    const env = (project: { Properties: Record<string, unknown> }) =>
      Object.fromEntries(
        (
          project.Properties.Environment as {
            EnvironmentVariables: { Name: string; Value: unknown }[];
          }
        ).EnvironmentVariables.map((v) => [v.Name, v.Value]),
      );
    const [, realworld] = projectNamed(staging, 'plinth-staging-realworld');
    const [, average] = projectNamed(staging, 'plinth-staging-k6-average');
    const [, stress] = projectNamed(staging, 'plinth-staging-scale-out');
    const [, smoke] = projectNamed(prod, 'plinth-prod-k6-smoke');
    for (const p of [realworld, average, stress]) expect(env(p).API_URL).toBe(url);
    expect(env(smoke).API_URL).toBe(`https://${config.stages.prod.domain?.domainName}`);

    expect(buildCommands(realworld)).toEqual([
      ...NODE_SETUP_COMMANDS,
      'npx tsx infra/release/smoke.ts --url "$API_URL" --suite realworld',
    ]);
    // k6 is installed (checksum verified) and the bundles built before the k6 command.
    expect(buildCommands(average)).toEqual([
      ...NODE_SETUP_COMMANDS,
      ...K6_SETUP_COMMANDS,
      'npx tsx infra/release/smoke.ts --url "$API_URL" --profile average',
    ]);
    expect(buildCommands(smoke).at(-1)).toBe(
      'npx tsx infra/release/smoke.ts --url "$API_URL" --profile smoke',
    );
    expect(buildCommands(stress).at(-1)).toMatch(
      /scale-out\.ts --cluster "\$CLUSTER" --service "\$SERVICE" --url "\$API_URL" --profile stress/,
    );
    expect(env(stress)).toMatchObject({ DURATION: config.stressDuration });
    expect(JSON.stringify(env(stress).SERVICE)).toContain('ApiService');
    expect(JSON.stringify(env(stress).CLUSTER)).toContain('Cluster');
    expect(average.Properties.Environment).toMatchObject({ ComputeType: 'BUILD_GENERAL1_MEDIUM' });
  });

  it('may read their source; only the scale-out check may describe the API service, nothing more', () => {
    const roleOf = (p: { Properties: Record<string, unknown> }) =>
      (p.Properties.ServiceRole as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
    const awsActions = (template: Template, name: string) =>
      actions(statementsOf(template, roleOf(projectNamed(template, name)[1]))).filter(
        (a) => !/^(logs|codebuild):/.test(a) && !a.startsWith('ec2:'),
      );
    const source = [
      's3:GetBucketAcl',
      's3:GetBucketLocation',
      's3:GetObject',
      's3:GetObjectVersion',
    ];
    expect(awsActions(staging, 'plinth-staging-realworld')).toEqual(source);
    expect(awsActions(staging, 'plinth-staging-k6-average')).toEqual(source);
    expect(awsActions(prod, 'plinth-prod-k6-smoke')).toEqual(source);
    expect(awsActions(staging, 'plinth-staging-scale-out')).toEqual(
      [...source, 'ecs:DescribeServices'].sort(),
    );
    const [, stress] = projectNamed(staging, 'plinth-staging-scale-out');
    const describe = statementsOf(staging, roleOf(stress)).find(
      (s) => s.Action === 'ecs:DescribeServices',
    );
    expect(JSON.stringify(describe?.Resource)).toMatch(/Plinth-staging-App.*ApiService/);
    const read = statementsOf(staging, roleOf(stress)).find((s) =>
      [s.Action].flat().includes('s3:GetObject'),
    );
    expect(read?.Resource).toBe(`arn:aws:s3:::plinth-pipeline-${ACCOUNT}-${REGION}/*`);
  });

  it('keep the logical ID of their log group', () => {
    expect(logicalIds(staging, 'AWS::Logs::LogGroup')).toEqual(['ChecksLogs']);
  });
});

describe('the stages', () => {
  it("exempt staging's NAT addresses from the WAF rate rule, not prod's", () => {
    const eips = Object.keys(stages['Plinth-staging-Network']!.findResources('AWS::EC2::EIP'));
    expect(eips).toHaveLength(config.stages.staging.network.natCount);
    const [, ipSet] = onlyResource(stages['Plinth-staging-App']!, 'AWS::WAFv2::IPSet');
    const addresses = JSON.stringify(ipSet.Properties.Addresses);
    expect(addresses).toContain('Plinth-staging-Network');
    expect(addresses).toContain('/32');
    stages['Plinth-prod-App']!.resourceCountIs('AWS::WAFv2::IPSet', 0);
  });

  it('are the stacks `cdk deploy -c env=<name>` deploys, template for template', () => {
    for (const envName of ['staging', 'prod'] as const) {
      const stageConfig = config.stages[envName];
      const byHand = synthesize(envName, {
        account: stageConfig.account,
        domainName: stageConfig.domain?.domainName ?? '',
        certificateArn: stageConfig.domain?.certificateArn ?? '',
      });
      // The one difference: the stage's `Default/` in the construct paths CDK writes into Name
      // tags and descriptions (in-place updates, never a replacement).
      const normalized = (template: Template) =>
        JSON.parse(JSON.stringify(template.toJSON()).replace(/([("])(?:Default\/)+/g, '$1'));
      for (const part of ['network', 'data', 'app'] as const) {
        const name = `Plinth-${envName}-${part.charAt(0).toUpperCase()}${part.slice(1)}`;
        expect(normalized(stages[name]!)).toEqual(byHand[part].toJSON());
      }
    }
  });
});
