import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CustomResource, Duration, Stack } from 'aws-cdk-lib';
import type { CfnElement } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { IDependable } from 'constructs';
import { acknowledge } from '../nag.js';

const HANDLER_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'lambda',
  'migration-runner',
);

/** CloudFormation waits at most an hour for a custom resource. */
const CLOUDFORMATION_WAIT = Duration.hours(1);

/** Props for {@link MigrationRunner}. */
export interface MigrationRunnerProps {
  /** Cluster to run the task in. */
  readonly cluster: ecs.ICluster;
  /** One-off task definition whose containers must all exit 0. */
  readonly taskDefinition: ecs.FargateTaskDefinition;
  /** Subnets for the task (private, with egress to ECR/Secrets Manager). */
  readonly subnets: ec2.SubnetSelection;
  /** Security group of the task (must reach PostgreSQL). */
  readonly securityGroup: ec2.ISecurityGroup;
  /**
   * Changes whenever the application image changes (the image asset hash): a new value runs the
   * migrations again on this deployment.
   */
  readonly imageVersion: string;
  /**
   * Longest a migration may run before the state machine stops its task. A deployment waits at
   * most an hour for it (CloudFormation's limit); a longer one goes on running, and the next run
   * waits for it on the migration lock. @default 2 hours
   */
  readonly maxRunTime?: Duration;
  /** Log retention of the state machine and handler logs. */
  readonly logRetention: logs.RetentionDays;
}

/**
 * Database migrations as a step of `cdk deploy`, independent of any Lambda's 15 minutes: a Step
 * Functions state machine runs the migrate task with `ecs:runTask.sync` and fails unless every
 * container exited 0; a custom resource (provider framework, `isComplete` polling) starts an
 * execution when the image changes and waits for it, so a failed migration fails the deployment.
 * A CloudFormation rollback runs the previous image's migrate, which is a no-op on a database that
 * is ahead (service/src/db/migrator.ts). Call {@link runBefore} with the services.
 */
export class MigrationRunner extends Construct {
  /** The state machine (can also be started by hand: docs/infra.md). */
  public readonly stateMachine: sfn.StateMachine;
  /** The deploy step; services depend on it. */
  public readonly deployStep: CustomResource;

  constructor(scope: Construct, id: string, props: MigrationRunnerProps) {
    super(scope, id);
    const maxRunTime = props.maxRunTime ?? Duration.hours(2);
    if (maxRunTime.toSeconds() < 60) throw new Error(`${id}: maxRunTime must be at least 1 minute`);

    const run = tasks.EcsRunTask.jsonata(this, 'RunMigrateTask', {
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      cluster: props.cluster,
      taskDefinition: props.taskDefinition,
      launchTarget: new tasks.EcsFargateLaunchTarget({
        platformVersion: ecs.FargatePlatformVersion.LATEST,
      }),
      subnets: props.subnets,
      securityGroups: [props.securityGroup],
      assignPublicIp: false,
      propagatedTagSource: ecs.PropagatedTagSource.TASK_DEFINITION,
      taskTimeout: sfn.Timeout.duration(maxRunTime),
    });
    const couldNotRun = sfn.Fail.jsonata(this, 'CouldNotRun', {
      error: 'MigrationTaskFailed',
      cause: '{% $states.input.Cause %}',
    });
    const failed = sfn.Fail.jsonata(this, 'MigrationFailed', {
      error: 'MigrationFailed',
      cause:
        "{% 'containers: ' & $string($states.input.Containers.{'name': Name, 'exitCode': ExitCode, 'reason': Reason}) & '; ' & $string($states.input.StoppedReason) %}",
    });
    // runTask.sync reports the stopped task; success means every container (the bootstrap one is
    // not essential) exited 0.
    const check = sfn.Choice.jsonata(this, 'AllContainersExitedZero')
      .when(
        sfn.Condition.jsonata(
          '{% $count($states.input.Containers) > 0 and $count($states.input.Containers[ExitCode = 0]) = $count($states.input.Containers) %}',
        ),
        new sfn.Succeed(this, 'Migrated'),
      )
      .otherwise(failed);
    run.addCatch(couldNotRun, { errors: [sfn.Errors.ALL] });

    const logGroup = new logs.LogGroup(this, 'StateMachineLogs', {
      retention: props.logRetention,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      queryLanguage: sfn.QueryLanguage.JSONATA,
      definitionBody: sfn.DefinitionBody.fromChainable(run.next(check)),
      timeout: maxRunTime.plus(Duration.minutes(10)),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      comment: 'Plinth: run the migrate task to completion; fail unless every container exited 0',
    });
    // propagatedTagSource tags the task at RunTask, which needs ecs:TagResource on the new task.
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ecs:TagResource'],
        resources: [
          Stack.of(this).formatArn({
            service: 'ecs',
            resource: 'task',
            resourceName: `${props.cluster.clusterName}/*`,
          }),
        ],
        conditions: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
      }),
    );

    const handler = (name: 'onEvent' | 'isComplete', description: string) =>
      new lambda.Function(this, name === 'onEvent' ? 'StartFunction' : 'WaitFunction', {
        description,
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        handler: `index.${name}`,
        code: lambda.Code.fromAsset(HANDLER_DIR, { exclude: ['*.d.mts'] }),
        timeout: Duration.seconds(30),
        memorySize: 256,
        logGroup: new logs.LogGroup(this, `${name === 'onEvent' ? 'Start' : 'Wait'}Logs`, {
          retention: props.logRetention,
        }),
      });
    const start = handler('onEvent', 'Starts the Plinth migration state machine during cdk deploy');
    const wait = handler('isComplete', 'Reports whether the Plinth migration execution finished');
    this.stateMachine.grantStartExecution(start);
    this.stateMachine.grantRead(wait);

    const providerLogs = new logs.LogGroup(this, 'ProviderLogs', {
      retention: props.logRetention,
    });
    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: start,
      isCompleteHandler: wait,
      queryInterval: Duration.seconds(15),
      totalTimeout: CLOUDFORMATION_WAIT,
      disableWaiterStateMachineLogging: false,
      waiterStateMachineLogOptions: { destination: providerLogs, level: sfn.LogLevel.ERROR },
      logGroup: providerLogs,
    });

    this.acknowledgeFindings(props.cluster, start, wait, provider);

    this.deployStep = new CustomResource(this, 'DeployStep', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::PlinthMigrations',
      serviceTimeout: CLOUDFORMATION_WAIT,
      properties: {
        StateMachineArn: this.stateMachine.stateMachineArn,
        ImageVersion: props.imageVersion,
        TaskDefinitionArn: props.taskDefinition.taskDefinitionArn,
      },
    });
  }

  /** cdk-nag: wildcards that cannot be narrowed, each with its reason. */
  private acknowledgeFindings(
    cluster: ecs.ICluster,
    start: lambda.Function,
    wait: lambda.Function,
    provider: cr.Provider,
  ): void {
    const stack = Stack.of(this);
    const id = (c: Construct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
    const arnOf = (c: Construct) => `Resource::<${id(c)}.Arn>:*`;
    const frameworkFn = (name: string) => provider.node.findChild(`framework-${name}`);
    acknowledge(
      this,
      [
        `AwsSolutions-IAM5[Resource::arn:${stack.partition}:ecs:${stack.region}:${stack.account}:task/<${id(cluster as unknown as Construct)}>/*]`,
        `AwsSolutions-IAM5[Resource::arn:${stack.partition}:states:${stack.region}:${stack.account}:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${id(this.stateMachine)}"}]}]}:*]`,
        'AwsSolutions-IAM5[Resource::*]',
      ],
      'Only wildcards the services require: ecs:TagResource on tasks of this cluster created by RunTask (task ARNs exist only after RunTask); DescribeExecution on executions of this one state machine (names unknown before they start); X-Ray and log delivery, which support only "*".',
    );
    acknowledge(
      this,
      [
        `AwsSolutions-IAM5[${arnOf(start)}]`,
        `AwsSolutions-IAM5[${arnOf(wait)}]`,
        `AwsSolutions-IAM5[${arnOf(frameworkFn('isComplete'))}]`,
        `AwsSolutions-IAM5[${arnOf(frameworkFn('onTimeout'))}]`,
      ],
      'CDK provider framework: invoking a function includes its versions (":*").',
    );
    acknowledge(
      this,
      [
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      ],
      'AWSLambdaBasicExecutionRole only lets each function (the two handlers, CDK provider framework) write its own logs.',
    );
    acknowledge(
      provider,
      ['AwsSolutions-SF1', 'AwsSolutions-SF2', 'AwsSolutions-L1'],
      "CDK provider framework: the waiter state machine only polls isComplete (its errors reach the provider's log group) and needs no tracing; CDK picks its framework functions' runtime.",
    );
  }

  /** Makes `constructs` (the services) deploy only after the migration succeeded. */
  public runBefore(...constructs: Construct[]): void {
    for (const c of constructs) c.node.addDependency(this.deployStep);
  }

  /**
   * Starts the migration only after `dependables` exist: e.g. the security-group rules that let
   * the task reach the database, which CloudFormation would otherwise create in parallel.
   */
  public runAfter(...dependables: IDependable[]): void {
    this.deployStep.node.addDependency(...dependables);
  }
}
