import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { CfnElement } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as triggers from 'aws-cdk-lib/triggers';
import { Construct } from 'constructs';

const HANDLER_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'lambda',
  'migration-runner',
);

/** Props for {@link MigrationRunner}. */
export interface MigrationRunnerProps {
  /** Cluster to run the task in. */
  readonly cluster: ecs.ICluster;
  /** One-off task definition whose containers must all exit 0. */
  readonly taskDefinition: ecs.FargateTaskDefinition;
  /** Subnets for the task (private, with egress to ECR/Secrets Manager). */
  readonly subnets: ec2.ISubnet[];
  /** Security group for the task (must reach PostgreSQL). */
  readonly securityGroup: ec2.ISecurityGroup;
  /**
   * Changes whenever the application image changes (the image asset hash). A new value creates a
   * new handler version, which makes the Trigger run again on this deployment.
   */
  readonly imageVersion: string;
  /** Longest a migration may take; the Lambda (max 15 min) gets this plus 1 minute. @default 13 minutes */
  readonly maxRunTime?: Duration;
  /** Log retention of the runner function. */
  readonly logRetention: logs.RetentionDays;
}

/**
 * Runs database migrations as a step of `cdk deploy`: a CDK Trigger invokes a small Lambda that
 * starts the `migrate` task with the new image (ecs:RunTask), polls until it stops and throws on a
 * non-zero exit code, which fails and rolls back the deployment. Call {@link runBefore} with the
 * services so they are only updated after the schema is migrated.
 */
export class MigrationRunner extends Construct {
  /** The trigger; services depend on it. */
  public readonly trigger: triggers.Trigger;
  /** The runner function. */
  public readonly function: lambda.Function;

  constructor(scope: Construct, id: string, props: MigrationRunnerProps) {
    super(scope, id);
    const maxRunTime = props.maxRunTime ?? Duration.minutes(13);
    const stack = Stack.of(this);

    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Plinth migration runner: run and watch the migrate task',
    });
    logGroup.grantWrite(role);

    this.function = new lambda.Function(this, 'Function', {
      description: 'Runs the Plinth migrate task during cdk deploy and fails on non-zero exit',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(HANDLER_DIR, { exclude: ['*.d.mts'] }),
      timeout: maxRunTime.plus(Duration.minutes(1)),
      memorySize: 256,
      role,
      logGroup,
      environment: {
        CLUSTER_ARN: props.cluster.clusterArn,
        TASK_DEFINITION_ARN: props.taskDefinition.taskDefinitionArn,
        SUBNET_IDS: props.subnets.map((s) => s.subnetId).join(','),
        SECURITY_GROUP_IDS: props.securityGroup.securityGroupId,
        IMAGE_VERSION: props.imageVersion,
      },
    });

    props.taskDefinition.grantRun(role);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:DescribeTasks'],
        resources: [
          stack.formatArn({
            service: 'ecs',
            resource: 'task',
            resourceName: `${props.cluster.clusterName}/*`,
          }),
        ],
        conditions: { ArnEquals: { 'ecs:cluster': props.cluster.clusterArn } },
      }),
    );

    this.trigger = new triggers.Trigger(this, 'Trigger', {
      handler: this.function,
      timeout: maxRunTime.plus(Duration.minutes(1)),
      invocationType: triggers.InvocationType.REQUEST_RESPONSE,
      executeOnHandlerChange: true,
      executeAfter: [props.taskDefinition],
    });

    const policy = role.node.tryFindChild('DefaultPolicy');
    const cluster = props.cluster.node.defaultChild as CfnElement;
    if (policy) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:${stack.partition}:ecs:${stack.region}:${stack.account}:task/<${stack.getLogicalId(cluster)}>/*]`,
        reason:
          'Task ARNs are only known after RunTask; DescribeTasks is limited to tasks of this cluster by the ecs:cluster condition.',
      });
    }
  }

  /** Makes `constructs` (the services) deploy only after the migration succeeded. */
  public runBefore(...constructs: Construct[]): void {
    this.trigger.executeBefore(...constructs);
  }
}
