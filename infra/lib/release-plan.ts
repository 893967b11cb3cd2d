/**
 * What the delivery pipeline runs around each stage, in one place: the snapshot before the deploy
 * (and the IAM it needs), and the post-deploy checks that run inside the stage's VPC. The pipeline
 * stack, the stage's checks stack and the GitHub deploy role all read it.
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { snapshotPrefix } from '../release/snapshot.js';
import { primaryInstanceIdentifier } from './constructs/database.js';
import { acknowledge } from './nag.js';
import { k6DurationMinutes } from './pipeline-config.js';
import type { PipelineConfig, PipelineStageName } from './pipeline-config.js';
import { APP_OUTPUTS, appOutput } from './stacks/app-stack.js';
import type { AppStack } from './stacks/app-stack.js';

/** The command of the pre-deploy snapshot step for `envName`'s primary. */
export function snapshotCommand(envName: string, retain: number, region: string): string {
  const instance = primaryInstanceIdentifier(envName);
  return `npx tsx infra/release/snapshot.ts --instance ${instance} --retain ${retain} --region ${region}`;
}

/**
 * Exactly what `infra/release/snapshot.ts` calls for `envName`'s primary: describe it, snapshot it
 * with the created-by tag, wait for the snapshot, list and delete its own release snapshots —
 * on the instance and on snapshots named `<instance>-release-*`, never on any other snapshot.
 */
export function snapshotStatements(
  scope: IConstruct,
  envName: string,
  env: { account: string; region: string },
): iam.PolicyStatement[] {
  const instance = primaryInstanceIdentifier(envName);
  const arn = (resource: string, resourceName: string) =>
    Stack.of(scope).formatArn({
      service: 'rds',
      resource,
      resourceName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      ...env,
    });
  const db = arn('db', instance);
  const snapshots = arn('snapshot', `${snapshotPrefix(instance)}*`);
  return [
    new iam.PolicyStatement({
      sid: `DescribePrimary${pascal(envName)}`,
      actions: ['rds:DescribeDBInstances'],
      resources: [db],
    }),
    new iam.PolicyStatement({
      sid: `SnapshotPrimary${pascal(envName)}`,
      actions: ['rds:CreateDBSnapshot', 'rds:DescribeDBSnapshots'],
      resources: [db, snapshots],
    }),
    new iam.PolicyStatement({
      sid: `ManageReleaseSnapshots${pascal(envName)}`,
      actions: ['rds:AddTagsToResource', 'rds:DeleteDBSnapshot'],
      resources: [snapshots],
    }),
  ];
}

/**
 * Acknowledges the one wildcard of {@link snapshotStatements} for `envName` on `scope` (and its
 * children): release snapshot names are only known at run time; the prefix keeps it to its own.
 */
export function acknowledgeSnapshotWildcard(
  scope: IConstruct,
  envName: string,
  env: { account: string; region: string },
): void {
  const snapshots = `${snapshotPrefix(primaryInstanceIdentifier(envName))}*`;
  acknowledge(
    scope,
    [`AwsSolutions-IAM5[Resource::arn:aws:rds:${env.region}:${env.account}:snapshot:${snapshots}]`],
    'The snapshot step creates, lists and prunes release snapshots named <instance>-release-<time>: ' +
      'the names are only known at run time, the prefix limits it to its own.',
  );
}

/** One post-deploy check of a stage: a CodeBuild project in the stage's VPC. */
export interface ReleaseCheckSpec {
  /** Pipeline action and construct id, e.g. `K6Average`. */
  readonly id: string;
  /** Project name part: the project is `plinth-<env>-<slug>`. */
  readonly slug: string;
  /** What passing proves. */
  readonly description: string;
  /** The check itself; `$API_URL` is the stage's origin. */
  readonly commands: readonly string[];
  /** Needs k6 and the bundles. @default false */
  readonly k6?: boolean;
  /** Build size. @default SMALL */
  readonly computeType?: codebuild.ComputeType;
  /** Longest run. */
  readonly timeout: Duration;
  /** Environment beyond `API_URL`, read from the stage's app stack. @default none */
  readonly environment?: (app: AppStack) => Record<string, string>;
  /** Permissions beyond reading the source. @default none */
  readonly statements?: (app: AppStack) => iam.PolicyStatement[];
}

/** Name of a check's CodeBuild project. */
export function checkProjectName(envName: string, spec: ReleaseCheckSpec): string {
  return `plinth-${envName}-${spec.slug}`;
}

/**
 * The checks after each stage's deploy, in order. staging: the RealWorld conformance suite, the
 * k6 `average` profile (its thresholds gate the approval), then a short `stress` run that must
 * make the API service scale out. prod: the k6 `smoke` profile.
 */
export function releaseChecks(
  stage: PipelineStageName,
  pipeline: Pick<PipelineConfig, 'stressDuration'>,
): ReleaseCheckSpec[] {
  if (stage === 'prod') {
    return [
      {
        id: 'K6Smoke',
        slug: 'k6-smoke',
        description: 'k6 smoke profile (mixed scenario) against prod after the deploy',
        k6: true,
        commands: ['npx tsx infra/release/smoke.ts --url "$API_URL" --profile smoke'],
        timeout: Duration.minutes(20),
      },
    ];
  }
  return [
    {
      id: 'RealWorld',
      slug: 'realworld',
      description: 'RealWorld conformance suite (newman) against staging after the deploy',
      commands: ['npx tsx infra/release/smoke.ts --url "$API_URL" --suite realworld'],
      timeout: Duration.minutes(20),
    },
    {
      id: 'K6Average',
      slug: 'k6-average',
      description: 'k6 average profile (mixed scenario) against staging; its thresholds gate prod',
      k6: true,
      computeType: codebuild.ComputeType.MEDIUM,
      commands: ['npx tsx infra/release/smoke.ts --url "$API_URL" --profile average'],
      timeout: Duration.minutes(40),
    },
    {
      id: 'ScaleOut',
      slug: 'scale-out',
      description: 'short k6 stress run against staging: the API service must scale out',
      k6: true,
      computeType: codebuild.ComputeType.MEDIUM,
      commands: [
        'npx tsx infra/release/scale-out.ts --cluster "$CLUSTER" --service "$SERVICE" ' +
          '--url "$API_URL" --profile stress --settle-minutes 5',
      ],
      // Ramps (7 min) + steady part + settle time + set-up margin.
      timeout: Duration.minutes(7 + k6DurationMinutes(pipeline.stressDuration) + 5 + 15),
      environment: (app) => ({
        CLUSTER: appOutput(app, APP_OUTPUTS.clusterName),
        SERVICE: appOutput(app, APP_OUTPUTS.apiServiceName),
        // k6 reads the steady part's length from the environment (loadtests/README.md).
        DURATION: pipeline.stressDuration,
      }),
      statements: (app) => [
        new iam.PolicyStatement({
          sid: 'WatchApiService',
          actions: ['ecs:DescribeServices'],
          resources: [appOutput(app, APP_OUTPUTS.apiServiceArn)],
        }),
      ],
    },
  ];
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
