import { Arn, Duration, RemovalPolicy, Stack, Stage } from 'aws-cdk-lib';
import type { StackProps, StageProps } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import {
  CodeBuildStep,
  CodePipeline,
  CodePipelineSource,
  ManualApprovalStep,
  Step,
} from 'aws-cdk-lib/pipelines';
import type {
  CodePipelineActionFactoryResult,
  FileSet,
  ICodePipelineActionFactory,
  IFileSetProducer,
  ProduceActionOptions,
  StageDeploymentProps,
} from 'aws-cdk-lib/pipelines';
import type { Construct } from 'constructs';
import type { PlinthConfig } from '../config.js';
import { NODE_SETUP_COMMANDS } from '../constructs/release-check.js';
import { keepLogicalId } from '../logical-id.js';
import {
  acknowledge,
  CODEBUILD_ARTIFACTS_REASON,
  codeBuildProjectFindings,
  readWriteBucketFindings,
} from '../nag.js';
import { PIPELINE_STAGES } from '../pipeline-config.js';
import type { PipelineConfig, PipelineStageName } from '../pipeline-config.js';
import { addPlinthStacks } from '../plinth.js';
import type { PlinthStacks } from '../plinth.js';
import {
  acknowledgeSnapshotWildcard,
  checkProjectName,
  releaseChecks,
  snapshotCommand,
  snapshotStatements,
} from '../release-plan.js';
import { ChecksStack } from './checks-stack.js';

/** The pipeline's stack name (and construct id). */
export const PIPELINE_STACK_NAME = 'Plinth-Pipeline';

/**
 * The pipeline's artifact bucket, named so that a stage's checks (another stack, which must not
 * reference the pipeline's) can be granted read access to the source they run.
 */
export function pipelineArtifactBucketName(account: string, region: string): string {
  return `plinth-pipeline-${account}-${region}`;
}

/**
 * What the synth step runs: the checks that need no database (lint, typecheck, `test:nodb`) and
 * the pipeline app's synthesis. The database-backed suites are GitHub CI's job.
 */
export const SYNTH_COMMANDS = [
  ...NODE_SETUP_COMMANDS,
  'npm run lint',
  'npm run typecheck',
  'npm run test:nodb',
  'npx cdk synth -c pipeline=true',
] as const;

/** The pipeline's stateful resources keep these logical IDs (a replacement would lose history). */
export const LOGICAL_IDS = {
  artifactBucket: 'PipelineArtifacts',
  buildLogs: 'PipelineBuildLogs',
} as const;

/** Props for {@link PlinthStage}. */
export interface PlinthStageProps extends StageProps {
  /** The environment this stage deploys. */
  readonly config: PlinthConfig;
  /** The pipeline, for its post-deploy checks. */
  readonly pipeline: PipelineConfig;
  /** Docker build context of the image. @default the repository root */
  readonly imageDirectory?: string;
}

/**
 * One environment as a pipeline stage: the same Network, Data and App stacks (same names) that
 * `cdk deploy -c env=<name>` deploys, plus `Plinth-<env>-Checks`, the post-deploy checks.
 */
export class PlinthStage extends Stage {
  /** Network, Data, App. */
  public readonly stacks: PlinthStacks;
  /** The post-deploy checks. */
  public readonly checks: ChecksStack;

  constructor(scope: Construct, id: string, props: PlinthStageProps) {
    super(scope, id, props);
    const { config, pipeline } = props;
    this.stacks = addPlinthStacks(
      this,
      config,
      props.imageDirectory ? { imageDirectory: props.imageDirectory } : {},
    );
    const name = `Plinth-${config.envName}-Checks`;
    this.checks = new ChecksStack(this, name, {
      stackName: name,
      env: { account: config.account, region: config.region },
      config,
      description: `Plinth ${config.envName}: post-deploy checks (CodeBuild in the VPC)`,
      vpc: this.stacks.network.vpc,
      app: this.stacks.app,
      checks: releaseChecks(config.envName as PipelineStageName, pipeline),
      artifactBucketName: pipelineArtifactBucketName(config.account, config.region),
    });
    // Checks test the new app: deployed after it even when they reference none of its values.
    this.checks.addStackDependency(this.stacks.app);
  }
}

/** Props for {@link StartProjectStep}. */
export interface StartProjectStepProps {
  /** Name of the CodeBuild project (defined in a stage's stack). */
  readonly projectName: string;
  /** Account and region of the project. */
  readonly env: { readonly account: string; readonly region: string };
  /** The files the build gets (the source). */
  readonly input: IFileSetProducer;
}

/**
 * A pipeline step that starts a CodeBuild project defined elsewhere — a stage's checks, which
 * must live in the stage to run in its VPC — and fails when the build fails. CDK Pipelines'
 * `CodeBuildStep` always creates its project in the pipeline's stack, where that VPC is out of
 * reach.
 */
export class StartProjectStep extends Step implements ICodePipelineActionFactory {
  private readonly input: FileSet;

  constructor(
    id: string,
    private readonly props: StartProjectStepProps,
  ) {
    super(id);
    const input = props.input.primaryOutput;
    if (!input) throw new Error(`${id}: the input step produces no files`);
    this.input = input;
    this.addDependencyFileSet(input);
  }

  produceAction(
    stage: codepipeline.IStage,
    options: ProduceActionOptions,
  ): CodePipelineActionFactoryResult {
    const project = codebuild.Project.fromProjectArn(
      options.scope,
      `${this.id}Project`,
      Arn.format(
        {
          service: 'codebuild',
          resource: 'project',
          resourceName: this.props.projectName,
          ...this.props.env,
        },
        Stack.of(options.scope),
      ),
    );
    stage.addAction(
      new actions.CodeBuildAction({
        actionName: options.actionName,
        runOrder: options.runOrder,
        project,
        input: options.artifacts.toCodePipeline(this.input),
      }),
    );
    return { runOrdersConsumed: 1 };
  }
}

/**
 * Props for {@link PipelineStack}. Its two stages are created beside it, in the same scope (the
 * app), not inside it (see the constructor).
 */
export interface PipelineStackProps extends StackProps {
  /** The pipeline's configuration (source, stages, retention). */
  readonly pipeline: PipelineConfig;
  /** Docker build context of the image. @default the repository root */
  readonly imageDirectory?: string;
}

/**
 * The delivery pipeline (CDK Pipelines on CodePipeline V2, self-mutating): a push to the branch
 * → synth (lint, typecheck, no-database tests, `cdk synth`) → update itself → publish the image →
 * staging (snapshot; Network, Data, App with its migration runner, Checks; RealWorld suite, k6
 * average, scale-out under stress) → manual approval → prod (snapshot; deploy; k6 smoke).
 */
export class PipelineStack extends Stack {
  /** The CDK pipeline. */
  public readonly pipeline: CodePipeline;
  /** The stages, by environment. */
  public readonly stages: Readonly<Record<PipelineStageName, PlinthStage>>;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { pipeline: config } = props;
    const env = { account: config.account, region: config.region };

    const artifactBucket = new s3.Bucket(this, 'Artifacts', {
      bucketName: pipelineArtifactBucketName(config.account, config.region),
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      lifecycleRules: [
        { expiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    keepLogicalId(artifactBucket, LOGICAL_IDS.artifactBucket);
    const buildLogs = new logs.LogGroup(this, 'BuildLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    keepLogicalId(buildLogs, LOGICAL_IDS.buildLogs);

    const source = CodePipelineSource.connection(config.repository, config.branch, {
      connectionArn: config.connectionArn,
      triggerOnPush: true,
      actionName: 'GitHub',
    });
    const synth = new CodeBuildStep('Synth', {
      input: source,
      commands: [...SYNTH_COMMANDS],
      // Nothing listens here in CodeBuild; explicit so a test that wants a database fails at once.
      env: {
        TEST_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none',
        TEST_REDIS_URL: 'redis://127.0.0.1:1',
      },
      primaryOutputDirectory: 'cdk.out',
      buildEnvironment: { computeType: codebuild.ComputeType.MEDIUM },
      timeout: Duration.minutes(45),
    });

    this.pipeline = new CodePipeline(this, 'Pipeline', {
      pipelineName: 'plinth',
      synth,
      artifactBucket,
      codeBuildDefaults: {
        buildEnvironment: {
          buildImage: codebuild.LinuxBuildImage.STANDARD_7_0,
          computeType: codebuild.ComputeType.SMALL,
        },
        // ensure-node.sh is a bash script; `source` persists its PATH for the following commands.
        partialBuildSpec: codebuild.BuildSpec.fromObject({ env: { shell: 'bash' } }),
        logging: { cloudWatch: { logGroup: buildLogs } },
      },
    });

    // Both stages' construct paths consist of `Default` ids only (prod's stage is nested in
    // staging's), which CDK leaves out of every name it derives from a path (logical IDs of
    // security-group rules, task definition families, the master secret, rotation function
    // names): the stages' templates are then exactly those of `cdk deploy -c env=<name>`, so
    // switching between the two replaces nothing (infra/test/pipeline.test.ts compares them).
    const stage = (name: PipelineStageName, parent: Construct, stageName: string) =>
      new PlinthStage(parent, 'Default', {
        stageName,
        env,
        config: config.stages[name],
        pipeline: config,
        ...(props.imageDirectory ? { imageDirectory: props.imageDirectory } : {}),
      });
    const snapshot = (name: PipelineStageName) =>
      new CodeBuildStep('Snapshot', {
        input: source,
        commands: [
          ...NODE_SETUP_COMMANDS,
          snapshotCommand(name, config.snapshotRetain, config.region),
        ],
        rolePolicyStatements: snapshotStatements(this, name, env),
        // The snapshot program waits up to 60 minutes for the instance, then for the snapshot.
        timeout: Duration.minutes(150),
      });
    const checks = (name: PipelineStageName) =>
      Step.sequence(
        releaseChecks(name, config).map(
          (spec) =>
            new StartProjectStep(spec.id, {
              projectName: checkProjectName(name, spec),
              env,
              input: source,
            }),
        ),
      );

    const staging = stage('staging', scope, 'Staging');
    // Created before either stage is added: adding one synthesizes it, nested stages included.
    const prod = stage('prod', staging, 'Prod');
    this.pipeline.addStage(staging, { pre: [snapshot('staging')], post: checks('staging') });

    const approval = new ManualApprovalStep('PromoteToProd', {
      comment:
        'staging passed the RealWorld suite, the k6 average thresholds and the scale-out check',
      reviewUrl: staging.stacks.app.apiUrl,
    });
    const prodSnapshot = snapshot('prod');
    prodSnapshot.addStepDependency(approval);
    // Named here: a nested stage's own name is prefixed with its parent's ("Staging-Prod").
    const prodDeployment: StageDeploymentProps = {
      stageName: 'Prod',
      pre: [approval, prodSnapshot],
      post: checks('prod'),
    };
    this.pipeline.addStage(prod, prodDeployment);
    this.stages = { staging, prod };

    this.pipeline.buildPipeline();
    this.acknowledgeFindings(artifactBucket);
  }

  /** The cdk-nag findings on what CDK Pipelines generates, each with its reason. */
  private acknowledgeFindings(artifactBucket: s3.Bucket): void {
    acknowledge(
      artifactBucket,
      ['AwsSolutions-S1'],
      'Holds only pipeline artifacts (source zip, cloud assembly), expiring after 30 days; the ' +
        "pipeline's roles are its only readers, and CloudTrail records who changes it.",
    );
    const pipeline = this.pipeline;
    acknowledge(pipeline, ['AwsSolutions-CB4'], CODEBUILD_ARTIFACTS_REASON);
    acknowledge(
      pipeline,
      readWriteBucketFindings(`<${LOGICAL_IDS.artifactBucket}.Arn>`, { kms: false }),
      "CDK Pipelines grants its roles read (pipeline, source and synth: read-write) on the objects of the pipeline's one artifact bucket; object keys differ per execution.",
    );
    for (const project of pipeline.node.findAll()) {
      if (project instanceof codebuild.Project) {
        acknowledge(
          project,
          codeBuildProjectFindings(project),
          "CodeBuild's own log group and report groups of this project, named after its generated id.",
        );
      }
    }
    acknowledge(
      pipeline.selfMutationProject,
      [
        `AwsSolutions-IAM5[Resource::arn:*:iam::${this.account}:role/*]`,
        'AwsSolutions-IAM5[Resource::*]',
      ],
      'Self-mutation is `cdk deploy` of this stack: it assumes only the CDK bootstrap roles (condition ' +
        'iam:ResourceTag/aws-cdk:bootstrap-role) and reads stacks and buckets by name, which take "*".',
    );
    acknowledge(
      pipeline.node.findChild('Assets'),
      [
        `AwsSolutions-IAM5[Resource::arn:aws:logs:${this.region}:${this.account}:log-group:/aws/codebuild/*]`,
        `AwsSolutions-IAM5[Resource::arn:aws:codebuild:${this.region}:${this.account}:report-group/*]`,
        'AwsSolutions-IAM5[Resource::*]',
      ],
      'CDK Pipelines shares one role per asset type across its publishing projects (their log and ' +
        'report groups, starting them); publishing itself goes through the bootstrap publishing role it assumes.',
    );
    for (const stage of PIPELINE_STAGES) {
      acknowledgeSnapshotWildcard(pipeline, stage, { account: this.account, region: this.region });
    }
  }
}
