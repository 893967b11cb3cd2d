import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, IgnoreMode, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import { CfnScalingPolicy } from 'aws-cdk-lib/aws-applicationautoscaling';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets';
import * as ses from 'aws-cdk-lib/aws-ses';
import type { Construct } from 'constructs';
import type { PlinthConfig } from '../config.js';
import { PlinthStack } from './plinth-stack.js';
import type { PlinthStackProps } from './plinth-stack.js';
import { APP_USERNAME, DATABASE_NAME } from '../constructs/database.js';
import { MigrationRunner } from '../constructs/migration-runner.js';
import {
  APP_METRICS_NAMESPACE,
  Observability,
  QUEUE_BACKLOG_METRIC,
  appMetric,
  runningTaskCount,
} from '../constructs/observability.js';
import { ApiWebAcl } from '../constructs/web-acl.js';
import { acknowledge, readWriteBucketFindings } from '../nag.js';
import { uploadsBucketName } from './data-stack.js';
import type { DataStack } from './data-stack.js';

/** Repository root: the Docker build context of the application image. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Paths never sent to the image build (and never hashed at synth): keeps synth fast. */
export const IMAGE_EXCLUDES = [
  '.git',
  'node_modules',
  '**/node_modules',
  'cdk.out',
  'dist',
  'coverage',
  'infra',
  'loadtests',
  '.local',
  '*.log',
  '.env',
  '.env.*',
];

/** Port the API listens on (`PORT`). */
export const API_PORT = 3000;
/** Prometheus metrics port (`METRICS_PORT`); not routed by the ALB. */
export const METRICS_PORT = 9464;
/** ALB target health check path: primary DB reachable (Redis down does not fail it). */
export const HEALTH_CHECK_PATH = '/health/ready';
/** The app finishes in-flight requests within this after SIGTERM (`SHUTDOWN_TIMEOUT_MS`). */
export const SHUTDOWN_TIMEOUT_MS = 25_000;
/** ALB deregistration delay and API stopTimeout: shutdown budget + 5 s margin. */
export const API_DRAIN = Duration.seconds(30);
/** Worker stopTimeout: lets in-flight jobs finish (Fargate maximum). */
export const WORKER_STOP_TIMEOUT = Duration.seconds(120);
/** Container name in every task definition that runs the app image. */
export const APP_CONTAINER = 'App';

/** Props for {@link AppStack}. */
export interface AppStackProps extends PlinthStackProps {
  /** VPC from the network stack. */
  readonly vpc: ec2.IVpc;
  /** Stateful resources. */
  readonly data: DataStack;
  /** Docker build context for the image. @default the repository root */
  readonly imageDirectory?: string;
}

/**
 * The stateless platform: ECS cluster, image, API service behind ALB + WAF, worker service,
 * migrations on deploy, SES identity, dashboard and alarms.
 */
export class AppStack extends PlinthStack {
  /** The ECS cluster. */
  public readonly cluster: ecs.Cluster;
  /** Public load balancer. */
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** API service. */
  public readonly apiService: ecs.FargateService;
  /** Worker service. */
  public readonly workerService: ecs.FargateService;
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

    // ---------------------------------------------------------------- cluster and image
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

    const image = new ecrAssets.DockerImageAsset(this, 'Image', {
      directory: props.imageDirectory ?? REPO_ROOT,
      platform: ecrAssets.Platform.LINUX_AMD64, // x86: Fargate Spot has no ARM capacity
      exclude: IMAGE_EXCLUDES,
      ignoreMode: IgnoreMode.DOCKER,
    });
    const appImage = ecs.ContainerImage.fromDockerImageAsset(image);

    // ---------------------------------------------------------------- configuration of the app
    const dbUrl = `postgres://${db.primary.dbInstanceEndpointAddress}:${db.primary.dbInstanceEndpointPort}/${DATABASE_NAME}`;
    const environment: Record<string, string> = {
      NODE_ENV: 'production',
      APP_ENV: config.envName,
      LOG_LEVEL: config.logLevel,
      DATABASE_URL: dbUrl,
      DATABASE_SSL: 'require',
      REDIS_URL: data.queueRedis.url,
      REDIS_CACHE_URL: data.cacheRedis.url,
      S3_BUCKET: uploads.bucketName,
      ...(config.mail
        ? {
            SMTP_HOST: `email-smtp.${config.region}.amazonaws.com`,
            SMTP_PORT: '587',
            SMTP_FROM: config.mail.fromAddress,
          }
        : {}),
    };
    const commonSecrets = (dbSecret: typeof db.appSecret): Record<string, ecs.Secret> => ({
      DATABASE_USER: ecs.Secret.fromSecretsManager(dbSecret, 'username'),
      DATABASE_PASSWORD: ecs.Secret.fromSecretsManager(dbSecret, 'password'),
      REDIS_AUTH_TOKEN: ecs.Secret.fromSecretsManager(data.redisAuthToken),
      JWT_SECRET: ecs.Secret.fromSecretsManager(data.jwtSecret),
      ...(data.smtpSecret
        ? {
            SMTP_USER: ecs.Secret.fromSecretsManager(data.smtpSecret, 'username'),
            SMTP_PASSWORD: ecs.Secret.fromSecretsManager(data.smtpSecret, 'password'),
          }
        : {}),
    });
    const logDriver = (name: string) =>
      ecs.LogDrivers.awsLogs({
        streamPrefix: name,
        logGroup: new logs.LogGroup(this, `${name}Logs`, {
          retention,
          removalPolicy: config.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
        }),
      });
    const taskDefinition = (name: string, cpu: number, memoryMiB: number) =>
      new ecs.FargateTaskDefinition(this, `${name}Task`, {
        cpu,
        memoryLimitMiB: memoryMiB,
        runtimePlatform: {
          cpuArchitecture: ecs.CpuArchitecture.X86_64,
          operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
        },
      });
    const securityGroup = (name: string, description: string) => {
      const sg = new ec2.SecurityGroup(this, `${name}SecurityGroup`, { vpc, description });
      Validations.of(sg).acknowledge({
        id: 'Annotation::@aws-cdk/aws-ec2:ipv4IgnoreEgressRule',
        reason:
          'Tasks need all outbound (ECR, Secrets Manager, CloudWatch, SES); the explicit egress to PostgreSQL/Redis is implied.',
      });
      sg.connections.allowToDefaultPort(db.primary, `${name} to PostgreSQL`);
      sg.connections.allowToDefaultPort(data.queueRedis, `${name} to queue Redis`);
      if (data.cacheRedis !== data.queueRedis) {
        sg.connections.allowToDefaultPort(data.cacheRedis, `${name} to cache Redis`);
      }
      return sg;
    };

    // ---------------------------------------------------------------- API task
    const apiTask = taskDefinition('Api', config.service.cpu, config.service.memoryMiB);
    const apiContainer = apiTask.addContainer(APP_CONTAINER, {
      image: appImage,
      command: ['service'],
      essential: true,
      environment: {
        ...environment,
        PORT: String(API_PORT),
        METRICS_PORT: String(METRICS_PORT),
        TRUST_PROXY: 'true',
        SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
        RDS_PRIMARY_INSTANCE_ID: db.primary.instanceIdentifier,
        // PUBLIC_URL and SESSION_COOKIE_SECURE are added once the listener (HTTP/HTTPS) is known.
        CORS_ORIGINS: config.corsOrigins,
        RATE_LIMIT_PER_MINUTE: String(config.rateLimit.perMinute),
        RATE_LIMIT_AUTH_PER_MINUTE: String(config.rateLimit.authPerMinute),
        RATE_LIMIT_LOGIN_PER_ACCOUNT: String(config.rateLimit.loginPerAccount),
      },
      secrets: commonSecrets(db.appSecret),
      portMappings: [
        { containerPort: API_PORT, name: 'http' },
        { containerPort: METRICS_PORT, name: 'metrics' },
      ],
      stopTimeout: API_DRAIN,
      logging: logDriver('Api'),
    });
    uploads.grantReadWrite(apiTask.taskRole);
    // Replica discovery: DescribeDBInstances on exactly the primary and the replicas.
    apiTask.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['rds:DescribeDBInstances'],
        resources: db.instanceArns,
      }),
    );
    const apiSg = securityGroup('Api', 'Plinth API tasks');
    if (data.jwtPreviousSecrets) {
      apiContainer.addSecret(
        'JWT_PREVIOUS_SECRETS',
        ecs.Secret.fromSecretsManager(data.jwtPreviousSecrets),
      );
    }

    // ---------------------------------------------------------------- worker task
    const workerTask = taskDefinition('Worker', config.worker.cpu, config.worker.memoryMiB);
    workerTask.addContainer(APP_CONTAINER, {
      image: appImage,
      command: ['worker'],
      essential: true,
      // The worker publishes Plinth/QueueBacklog and FailedJobs, which scaling and alarms read.
      environment: { ...environment, CLOUDWATCH_METRICS: 'true' },
      secrets: commonSecrets(db.appSecret),
      stopTimeout: WORKER_STOP_TIMEOUT,
      logging: logDriver('Worker'),
    });
    uploads.grantReadWrite(workerTask.taskRole);
    workerTask.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': APP_METRICS_NAMESPACE } },
      }),
    );
    const workerSg = securityGroup('Worker', 'Plinth worker tasks');

    // ---------------------------------------------------------------- migrate task
    // DbBootstrap (stock postgres image, psql) creates the runtime role and its DML grants with
    // the master credentials, then Migrate runs the app's migrations as the owner (master).
    const migrateTask = taskDefinition('Migrate', 512, 1024);
    const bootstrap = migrateTask.addContainer('DbBootstrap', {
      image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/postgres:17-alpine'),
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
      logging: logDriver('DbBootstrap'),
    });
    const migrate = migrateTask.addContainer('Migrate', {
      image: appImage,
      command: ['migrate'],
      essential: true,
      environment,
      secrets: commonSecrets(db.masterSecret),
      logging: logDriver('Migrate'),
    });
    migrate.addContainerDependencies({
      container: bootstrap,
      condition: ecs.ContainerDependencyCondition.SUCCESS,
    });
    const migrateSg = securityGroup('Migrate', 'Plinth one-off migration task');

    // ---------------------------------------------------------------- load balancer and WAF
    const albSg = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc,
      description: 'Plinth public ALB: HTTP(S) from the internet',
      allowAllOutbound: false,
    });
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup: albSg,
      dropInvalidHeaderFields: true,
      deletionProtection: config.protectData,
      idleTimeout: Duration.seconds(60),
    });
    this.loadBalancer.logAccessLogs(data.logsBucket, `alb-${config.envName}`);
    Validations.of(albSg).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: config.wafEnabled
        ? 'Public API load balancer: ports 80/443 must be reachable from anywhere; AWS WAF filters requests.'
        : 'Public API load balancer: ports 80/443 must be reachable from anywhere; in this env (wafEnabled=false) the API rate limiter is the protection.',
    });

    const targetGroup = new elbv2.ApplicationTargetGroup(this, 'ApiTargets', {
      vpc,
      port: API_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      deregistrationDelay: API_DRAIN,
      healthCheck: {
        path: HEALTH_CHECK_PATH,
        healthyHttpCodes: '200',
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
      },
    });

    if (config.domain) {
      const certificate = acm.Certificate.fromCertificateArn(
        this,
        'Certificate',
        config.domain.certificateArn,
      );
      this.loadBalancer.addListener('Https', {
        port: 443,
        protocol: elbv2.ApplicationProtocol.HTTPS,
        certificates: [certificate],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
        defaultTargetGroups: [targetGroup],
      });
      this.loadBalancer.addRedirect({
        sourceProtocol: elbv2.ApplicationProtocol.HTTP,
        sourcePort: 80,
        targetProtocol: elbv2.ApplicationProtocol.HTTPS,
        targetPort: 443,
      });
      if (config.domain.hostedZone) {
        const zone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', {
          hostedZoneId: config.domain.hostedZone.id,
          zoneName: config.domain.hostedZone.name,
        });
        new route53.ARecord(this, 'ApiAlias', {
          zone,
          recordName: config.domain.domainName,
          target: route53.RecordTarget.fromAlias(
            new route53Targets.LoadBalancerTarget(this.loadBalancer),
          ),
        });
      }
      this.apiUrl = `https://${config.domain.domainName}`;
    } else {
      this.loadBalancer.addListener('Http', {
        port: 80,
        protocol: elbv2.ApplicationProtocol.HTTP,
        defaultTargetGroups: [targetGroup],
      });
      this.apiUrl = `http://${this.loadBalancer.loadBalancerDnsName}`;
    }

    // The app builds OIDC redirect URIs from PUBLIC_URL; the session cookie is Secure only when
    // clients reach the ALB over HTTPS (the HTTP-only dev ALB would never get the cookie back).
    apiContainer.addEnvironment('PUBLIC_URL', this.apiUrl);
    apiContainer.addEnvironment('SESSION_COOKIE_SECURE', config.domain ? 'true' : 'false');

    if (config.wafEnabled) {
      new ApiWebAcl(this, 'Waf', {
        name: `plinth-${config.envName}`,
        loadBalancerArn: this.loadBalancer.loadBalancerArn,
        rateLimitPer5Min: config.wafRateLimitPer5Min,
      });
    }

    // ---------------------------------------------------------------- services
    this.apiService = new ecs.FargateService(this, 'ApiService', {
      cluster: this.cluster,
      taskDefinition: apiTask,
      vpcSubnets: privateSubnets,
      securityGroups: [apiSg],
      assignPublicIp: false,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      enableExecuteCommand: true,
      healthCheckGracePeriod: Duration.seconds(60),
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      capacityProviderStrategies: [
        { capacityProvider: config.service.spot ? 'FARGATE_SPOT' : 'FARGATE', weight: 1 },
      ],
    });
    targetGroup.addTarget(
      this.apiService.loadBalancerTarget({ containerName: APP_CONTAINER, containerPort: API_PORT }),
    );
    this.apiService.connections.allowFrom(albSg, ec2.Port.tcp(API_PORT), 'ALB to API');

    const apiScaling = this.apiService.autoScaleTaskCount({
      minCapacity: config.service.minTasks,
      maxCapacity: config.service.maxTasks,
    });
    apiScaling.scaleOnCpuUtilization('CpuScaling', {
      targetUtilizationPercent: config.service.cpuTargetPercent,
      scaleInCooldown: Duration.minutes(5),
      scaleOutCooldown: Duration.minutes(1),
    });
    apiScaling.scaleOnRequestCount('RequestScaling', {
      requestsPerTarget: config.service.requestsPerTargetPerMinute,
      targetGroup,
      scaleInCooldown: Duration.minutes(5),
      scaleOutCooldown: Duration.minutes(1),
    });

    const spot = config.worker.spotPercent;
    this.workerService = new ecs.FargateService(this, 'WorkerService', {
      cluster: this.cluster,
      taskDefinition: workerTask,
      vpcSubnets: privateSubnets,
      securityGroups: [workerSg],
      assignPublicIp: false,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      enableExecuteCommand: true,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      capacityProviderStrategies: [
        // With a mix, the first `base` task is on-demand so Spot reclaims never stop all workers.
        ...(spot < 100
          ? [{ capacityProvider: 'FARGATE', weight: 100 - spot, base: spot > 0 ? 1 : 0 }]
          : []),
        ...(spot > 0 ? [{ capacityProvider: 'FARGATE_SPOT', weight: spot }] : []),
      ],
    });

    const workerScaling = this.workerService.autoScaleTaskCount({
      minCapacity: config.worker.minTasks,
      maxCapacity: config.worker.maxTasks,
    });
    if (config.containerInsights) {
      this.scaleWorkerOnBacklogPerTask(workerScaling, config.envName, config.worker);
    } else {
      // Without Container Insights there is no RunningTaskCount to divide by: step scaling on the
      // absolute backlog instead. Add a task while the backlog is at or above one task's target for
      // 3 minutes, remove one while it is at most half of it (hysteresis). No CPU target tracking
      // next to it: step and target-tracking policies are not coordinated and would fight.
      const target = config.worker.backlogPerTaskTarget;
      workerScaling.scaleOnMetric('BacklogSteps', {
        metric: appMetric(QUEUE_BACKLOG_METRIC, config.envName, 'Maximum'),
        scalingSteps: [
          { upper: Math.floor(target / 2), change: -1 },
          { lower: target, change: +1 },
        ],
        adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
        evaluationPeriods: 3,
        cooldown: Duration.minutes(3),
      });
    }

    // ---------------------------------------------------------------- migrations on deploy
    this.migrations = new MigrationRunner(this, 'MigrationRunner', {
      cluster: this.cluster,
      taskDefinition: migrateTask,
      subnets: vpc.selectSubnets(privateSubnets).subnets,
      securityGroup: migrateSg,
      imageVersion: image.assetHash,
      logRetention: retention,
    });
    // Neither service is created/updated until the schema matches the new image.
    this.migrations.runBefore(this.apiService, this.workerService);

    // ---------------------------------------------------------------- mail
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

    // ---------------------------------------------------------------- observability
    this.observability = new Observability(this, 'Observability', {
      envName: config.envName,
      containerInsights: config.containerInsights,
      ...(config.alarmEmail ? { alarmEmail: config.alarmEmail } : {}),
      loadBalancer: this.loadBalancer,
      targetGroup,
      apiService: this.apiService,
      apiMinTasks: config.service.minTasks,
      workerService: this.workerService,
      worker: config.worker,
      dbPrimary: db.primary,
      dbReplicas: db.replicas,
      dbAllocatedStorageGiB: config.database.allocatedStorageGiB,
      dbMaxConnections: config.database.maxConnectionsAlarm,
      queueRedis: data.queueRedis,
      cacheRedis: data.cacheRedis,
    });

    new CfnOutput(this, 'ApiUrl', {
      value: this.apiUrl,
      description: 'Base URL of the Plinth API',
    });
    new CfnOutput(this, 'LoadBalancerDns', { value: this.loadBalancer.loadBalancerDnsName });
    new CfnOutput(this, 'ClusterName', { value: this.cluster.clusterName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.observability.topic.topicArn });
    new CfnOutput(this, 'MigrateTaskDefinition', {
      value: migrateTask.taskDefinitionArn,
      description: 'Run by hand: aws ecs run-task --task-definition <this> ... (docs/infra.md)',
    });

    this.acknowledgeFindings(uploads.bucketArn, { apiTask, workerTask, migrateTask });
  }

  /**
   * Target tracking on backlog per running task (metric math: `Plinth/QueueBacklog` divided by the
   * Container Insights `RunningTaskCount`) plus a CPU target-tracking safety net; ECS scales out if
   * either asks and in only if both agree.
   */
  private scaleWorkerOnBacklogPerTask(
    workerScaling: ecs.ScalableTaskCount,
    envName: string,
    worker: PlinthConfig['worker'],
  ): void {
    workerScaling.scaleOnCpuUtilization('CpuSafetyNet', {
      targetUtilizationPercent: worker.cpuTargetPercent,
      scaleInCooldown: Duration.minutes(5),
      scaleOutCooldown: Duration.minutes(1),
    });
    // Backlog per task = QueueBacklog / RunningTaskCount (metric math), tracked at the target.
    // Target tracking cannot scale below minCapacity, so an idle queue leaves min workers running.
    const workerTarget = workerScaling.node.findChild('Target') as appscaling.ScalableTarget;
    const tasks = runningTaskCount(this.workerService);
    new CfnScalingPolicy(this, 'WorkerBacklogPerTaskScaling', {
      policyName: `plinth-${envName}-worker-backlog-per-task`,
      policyType: 'TargetTrackingScaling',
      scalingTargetId: workerTarget.scalableTargetId,
      targetTrackingScalingPolicyConfiguration: {
        targetValue: worker.backlogPerTaskTarget,
        scaleInCooldown: 300,
        scaleOutCooldown: 60,
        customizedMetricSpecification: {
          metrics: [
            {
              id: 'backlog',
              label: 'Queue backlog (waiting + delayed)',
              returnData: false,
              metricStat: {
                metric: {
                  namespace: APP_METRICS_NAMESPACE,
                  metricName: QUEUE_BACKLOG_METRIC,
                  dimensions: [{ name: 'Environment', value: envName }],
                },
                stat: 'Average',
              },
            },
            {
              id: 'tasks',
              label: 'Running worker tasks',
              returnData: false,
              metricStat: {
                metric: {
                  namespace: tasks.namespace,
                  metricName: tasks.metricName,
                  dimensions: Object.entries(tasks.dimensions ?? {}).map(([name, value]) => ({
                    name,
                    value: String(value),
                  })),
                },
                stat: 'Average',
              },
            },
            {
              id: 'backlogPerTask',
              label: 'Backlog per running worker task',
              expression: 'IF(tasks > 0, backlog / tasks, backlog)',
              returnData: true,
            },
          ],
        },
      },
    });
  }

  private acknowledgeFindings(
    uploadsArn: string,
    tasks: Record<'apiTask' | 'workerTask' | 'migrateTask', ecs.FargateTaskDefinition>,
  ): void {
    const policy = (role: iam.IRole) => role.node.findChild('DefaultPolicy');
    const arn = this.resolve(uploadsArn) as unknown;
    const renderedArn = typeof arn === 'string' ? arn : renderJoin(arn);
    for (const task of Object.values(tasks)) {
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
    for (const task of [tasks.apiTask, tasks.workerTask]) {
      acknowledge(
        policy(task.taskRole),
        readWriteBucketFindings(renderedArn),
        'Uploads/exports: the app reads, writes and deletes arbitrary object keys of this one bucket (grantReadWrite); KMS actions are limited to the bucket key via the S3 service.',
      );
    }
    acknowledge(
      policy(tasks.apiTask.taskRole),
      ['AwsSolutions-IAM5[Resource::*]'],
      'ECS Exec (ssmmessages:Create/OpenControl/DataChannel) supports only Resource "*"; granted by CDK for enableExecuteCommand.',
    );
    acknowledge(
      policy(tasks.workerTask.taskRole),
      ['AwsSolutions-IAM5[Resource::*]'],
      'cloudwatch:PutMetricData supports only Resource "*" and is restricted to the Plinth namespace by the cloudwatch:namespace condition; ssmmessages for ECS Exec supports only "*".',
    );
  }
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
