import { Stack } from 'aws-cdk-lib';
import type { Duration } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The commands every check starts with: Node 24 (scripts/ensure-node.sh), then `npm ci`. */
export const NODE_SETUP_COMMANDS = [
  'source scripts/ensure-node.sh',
  'npm ci --no-audit --no-fund',
] as const;

/** Installs the pinned k6 (checksum verified) and builds the scenario bundles. */
export const K6_SETUP_COMMANDS = [
  'bash scripts/install-k6.sh "$HOME/.local/bin"',
  'export PATH="$HOME/.local/bin:$PATH"',
  'npm run loadtest:build',
] as const;

/** Props for {@link ReleaseCheck}. */
export interface ReleaseCheckProps {
  /** The CodeBuild project's name: how the pipeline, in another stack, starts it. */
  readonly projectName: string;
  /** What the check proves, shown in the console. */
  readonly description: string;
  /** The VPC whose private subnets (with egress through the NAT) the builds run in. */
  readonly vpc: ec2.IVpc;
  /** Security group of the build's network interfaces. */
  readonly securityGroup: ec2.ISecurityGroup;
  /** Commands after checkout, Node and `npm ci` (and k6 when `k6`); a non-zero exit fails it. */
  readonly commands: readonly string[];
  /** Plain-text environment of the build (no secrets). @default none */
  readonly environment?: Readonly<Record<string, string>>;
  /** Install k6 and build the bundles first ({@link K6_SETUP_COMMANDS}). @default false */
  readonly k6?: boolean;
  /** Build size: k6 generating load wants more than the default. @default SMALL (2 vCPU, 3 GB) */
  readonly computeType?: codebuild.ComputeType;
  /** Longest run before CodeBuild stops it (and the pipeline action fails). */
  readonly timeout: Duration;
  /** Where the build log goes. */
  readonly logGroup: logs.ILogGroup;
  /**
   * Name of the pipeline's artifact bucket: CodeBuild downloads the source artifact with the
   * project's role, and the bucket is in the pipeline's stack, so it is named, not referenced.
   */
  readonly artifactBucketName: string;
  /** Further permissions of the build (e.g. reading the API's ECS service). @default none */
  readonly statements?: readonly iam.PolicyStatement[];
}

/**
 * A post-deploy check run by the pipeline inside an environment's VPC: a CodeBuild project in the
 * private subnets, so what it sends to the public API leaves through the environment's NAT (an
 * address the WAF can exempt from its rate rule, see `wafExemptNat`). The project lives in the
 * stage it checks because a VPC can only be used where it is defined; the pipeline starts it by
 * name. Its role reads the source artifact, writes its log, and nothing else unless `statements`.
 */
export class ReleaseCheck extends Construct {
  /** The CodeBuild project. */
  public readonly project: codebuild.PipelineProject;

  constructor(scope: Construct, id: string, props: ReleaseCheckProps) {
    super(scope, id);
    if (props.commands.length === 0) throw new Error(`${id}: commands must not be empty`);
    const timeoutMinutes = props.timeout.toMinutes();
    if (timeoutMinutes < 5 || timeoutMinutes > 480) {
      throw new Error(`${id}: timeout must be 5–480 minutes (CodeBuild's limits)`);
    }

    this.project = new codebuild.PipelineProject(this, 'Project', {
      projectName: props.projectName,
      description: props.description,
      vpc: props.vpc,
      subnetSelection: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [props.securityGroup],
      environment: {
        buildImage: codebuild.LinuxBuildImage.STANDARD_7_0,
        computeType: props.computeType ?? codebuild.ComputeType.SMALL,
      },
      environmentVariables: Object.fromEntries(
        Object.entries(props.environment ?? {}).map(([name, value]) => [name, { value }]),
      ),
      buildSpec: codebuild.BuildSpec.fromObject({
        version: '0.2',
        env: { shell: 'bash' },
        phases: {
          build: {
            commands: [
              ...NODE_SETUP_COMMANDS,
              ...(props.k6 ? K6_SETUP_COMMANDS : []),
              ...props.commands,
            ],
          },
        },
      }),
      timeout: props.timeout,
      logging: { cloudWatch: { logGroup: props.logGroup } },
    });

    const bucketArn = Stack.of(this).formatArn({
      service: 's3',
      region: '',
      account: '',
      resource: props.artifactBucketName,
    });
    this.project.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadPipelineArtifacts',
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: [`${bucketArn}/*`],
      }),
    );
    this.project.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'LocatePipelineArtifacts',
        actions: ['s3:GetBucketLocation', 's3:GetBucketAcl'],
        resources: [bucketArn],
      }),
    );
    for (const statement of props.statements ?? []) this.project.addToRolePolicy(statement);
  }
}
