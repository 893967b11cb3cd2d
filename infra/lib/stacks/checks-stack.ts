import { CfnOutput, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ReleaseCheck } from '../constructs/release-check.js';
import { keepLogicalId } from '../logical-id.js';
import { acknowledge, CODEBUILD_ARTIFACTS_REASON, codeBuildProjectFindings } from '../nag.js';
import { checkProjectName } from '../release-plan.js';
import type { ReleaseCheckSpec } from '../release-plan.js';
import type { AppStack } from './app-stack.js';
import { PlinthStack } from './plinth-stack.js';
import type { PlinthStackProps } from './plinth-stack.js';

/** Props for {@link ChecksStack}. */
export interface ChecksStackProps extends PlinthStackProps {
  /** The environment's VPC (its private subnets leave through the NAT). */
  readonly vpc: ec2.IVpc;
  /** The environment's app stack: the API URL, cluster and service the checks test. */
  readonly app: AppStack;
  /** The checks, in the order the pipeline runs them. */
  readonly checks: readonly ReleaseCheckSpec[];
  /** Name of the pipeline's artifact bucket (the source the checks run). */
  readonly artifactBucketName: string;
}

/**
 * `Plinth-<env>-Checks`, deployed by the pipeline after the app: one CodeBuild project per
 * post-deploy check in the environment's private subnets. Only the pipeline's stages have it;
 * `cdk deploy` by hand deploys Network, Data and App only.
 */
export class ChecksStack extends PlinthStack {
  /** The checks' projects, by spec id. */
  public readonly checks: Readonly<Record<string, ReleaseCheck>>;

  constructor(scope: Construct, id: string, props: ChecksStackProps) {
    super(scope, id, props);
    const { config, app } = props;

    const securityGroup = new ec2.SecurityGroup(this, 'ChecksSecurityGroup', {
      vpc: props.vpc,
      description: `Plinth ${config.envName} release checks: HTTPS out only`,
      allowAllOutbound: false,
    });
    // The API (through its public name), the npm registry, GitHub (k6) and AWS APIs: all HTTPS.
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS out');

    const logGroup = new logs.LogGroup(this, 'ChecksLogs', {
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: config.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    keepLogicalId(logGroup, 'ChecksLogs');

    const checks: Record<string, ReleaseCheck> = {};
    for (const spec of props.checks) {
      checks[spec.id] = new ReleaseCheck(this, spec.id, {
        projectName: checkProjectName(config.envName, spec),
        description: spec.description,
        vpc: props.vpc,
        securityGroup,
        commands: spec.commands,
        environment: { API_URL: app.apiUrl, ...spec.environment?.(app) },
        ...(spec.k6 ? { k6: true } : {}),
        ...(spec.computeType ? { computeType: spec.computeType } : {}),
        timeout: spec.timeout,
        logGroup,
        artifactBucketName: props.artifactBucketName,
        ...(spec.statements ? { statements: spec.statements(app) } : {}),
      });
    }
    this.checks = checks;
    this.acknowledgeFindings(props.artifactBucketName);
    new CfnOutput(this, 'ChecksLogGroup', { value: logGroup.logGroupName });
  }

  /** The cdk-nag findings on the checks' projects, each with its reason. */
  private acknowledgeFindings(artifactBucketName: string): void {
    acknowledge(this, ['AwsSolutions-CB4'], CODEBUILD_ARTIFACTS_REASON);
    acknowledge(
      this,
      [`AwsSolutions-IAM5[Resource::arn:aws:s3:::${artifactBucketName}/*]`],
      "A check downloads its source artifact: read-only, the pipeline's one artifact bucket, keys differ per execution.",
    );
    acknowledge(
      this,
      [
        'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*]',
        'AwsSolutions-IAM5[Resource::*]',
      ],
      'CodeBuild in a VPC creates its network interfaces: the ec2 Describe/Create/DeleteNetworkInterface ' +
        'actions take only "*"; CreateNetworkInterfacePermission is limited by condition to the private ' +
        'subnets and the CodeBuild service.',
    );
    for (const check of Object.values(this.checks)) {
      acknowledge(
        check.project,
        codeBuildProjectFindings(check.project),
        "CodeBuild's own log group and report groups of this project, named after its generated id.",
      );
    }
  }
}
