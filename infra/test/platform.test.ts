// Prod with a domain, certificate and alarm e-mail: the properties an AWS reviewer looks for.
import { describe, expect, it } from '@jest/globals';
import { Match } from 'aws-cdk-lib/assertions';
import { configSchema } from '../../service/src/config.js';
import { NewArticleRequest } from '../../service/src/modules/articles/articles.schemas.js';
import { requestsPerTargetPerMinute } from '../lib/config.js';
import { MANAGED_RULE_GROUPS, SCOPED_BODY_RULES } from '../lib/constructs/web-acl.js';
import { API_OBJECT_ACCESS, WORKER_OBJECT_ACCESS } from '../lib/object-access.js';
import { readBodyRoutes } from '../lib/stacks/app-stack.js';
import { dependencyClosure, onlyResource, synthesize } from './support.js';
import { evaluate } from './waf-eval.js';

const CERT = 'arn:aws:acm:us-east-1:333333333333:certificate/0b9a1c2d-1111-2222-3333-444455556666';
const prod = synthesize('prod', {
  domainName: 'api.example.com',
  certificateArn: CERT,
  alarmEmail: 'ops@example.com',
});
const { app, data, config } = prod;

type Container = {
  Name: string;
  Command?: string[];
  StopTimeout?: number;
  Environment?: { Name: string; Value: unknown }[];
  Secrets?: { Name: string; ValueFrom: unknown }[];
  PortMappings?: { ContainerPort: number }[];
  DependsOn?: { ContainerName: string; Condition: string }[];
  Essential?: boolean;
};
const taskDefinitions = Object.entries(app.findResources('AWS::ECS::TaskDefinition'));
const taskDefinition = (prefix: string) => {
  const found = taskDefinitions.find(([id]) => id.startsWith(prefix));
  if (!found) throw new Error(`no task definition ${prefix}`);
  return { id: found[0], containers: found[1].Properties.ContainerDefinitions as Container[] };
};
const envOf = (c: Container) =>
  Object.fromEntries((c.Environment ?? []).map((e) => [e.Name, e.Value]));
const services = Object.entries(app.findResources('AWS::ECS::Service'));
const service = (prefix: string) => {
  const found = services.find(([id]) => id.startsWith(prefix));
  if (!found) throw new Error(`no service ${prefix}`);
  return { id: found[0], resource: found[1] };
};

describe('data stack', () => {
  it('enforces TLS on PostgreSQL through the parameter group', () => {
    data.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Family: 'postgres17',
      Parameters: Match.objectLike({ 'rds.force_ssl': '1' }),
    });
  });

  it('encrypts the primary with the data key and keeps backups and Performance Insights', () => {
    data.hasResourceProperties('AWS::RDS::DBInstance', {
      DBInstanceIdentifier: 'plinth-prod-db',
      StorageEncrypted: true,
      KmsKeyId: { 'Fn::GetAtt': ['DataKey17AFBB84', 'Arn'] },
      BackupRetentionPeriod: config.database.backupRetentionDays,
      EnablePerformanceInsights: true,
      PubliclyAccessible: false,
    });
  });

  it('rotates the master (single-user) and the runtime user (multi-user, alternating users)', () => {
    const rotations = Object.values(data.findResources('AWS::SecretsManager::RotationSchedule'));
    expect(rotations).toHaveLength(2);
    data.resourceCountIs('AWS::Serverless::Application', 2);
    const mappings = JSON.stringify(data.toJSON().Mappings);
    expect(mappings).toContain('SecretsManagerRDSPostgreSQLRotationMultiUser');
    expect(mappings).toContain('SecretsManagerRDSPostgreSQLRotationSingleUser');
    data.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotateImmediatelyOnUpdate: false,
      RotationRules: { ScheduleExpression: `rate(${config.database.rotationDays} days)` },
    });
  });

  it('locks down the uploads bucket: KMS, no public access, TLS-only, lifecycle', () => {
    data.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: 'plinth-prod-uploads-333333333333-us-east-1',
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({
            ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }),
          }),
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Id: 'ExpireExports', Prefix: 'exports/', ExpirationInDays: 30 }),
        ]),
      },
    });
    data.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: 'UploadsBucket5E5E9B64' },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });
});

describe('API service', () => {
  const api = taskDefinition('ApiTask');
  const container = api.containers.find((c) => c.Name === 'App') as Container;

  it('runs the image with the service command, drains for 30 s and exposes app + metrics ports', () => {
    expect(container.Command).toEqual(['service']);
    expect(container.StopTimeout).toBe(30);
    expect(container.PortMappings?.map((p) => p.ContainerPort)).toEqual([3000, 9464]);
  });

  it('gets the documented environment and secrets, and no restated service default', () => {
    const env = envOf(container);
    expect(env).toMatchObject({
      NODE_ENV: 'production',
      APP_ENV: 'prod',
      TRUST_PROXY: 'true',
      DATABASE_SSL: 'verify-full',
      S3_BUCKET: 'plinth-prod-uploads-333333333333-us-east-1',
      PUBLIC_URL: 'https://api.example.com',
    });
    // Defaults the service has itself (port, shutdown, rate limits, CORS, Secure cookie in
    // production, log level) are left to it.
    for (const name of [
      'PORT',
      'METRICS_PORT',
      'SHUTDOWN_TIMEOUT_MS',
      'RATE_LIMIT_PER_MINUTE',
      'CORS_ORIGINS',
      'SESSION_COOKIE_SECURE',
      'LOG_LEVEL',
    ]) {
      expect(env[name]).toBeUndefined();
    }
    expect(configSchema.shape.PORT.parse(undefined)).toBe(3000);
    expect(JSON.stringify(env.DATABASE_URL)).toMatch(/postgres:\/\//);
    expect(JSON.stringify(env.REDIS_URL)).toContain('rediss://');
    expect(JSON.stringify(env.REDIS_CACHE_URL)).toContain('rediss://');
    expect(env.RDS_PRIMARY_INSTANCE_ID).toBeDefined();
    expect(container.Secrets?.map((s) => s.Name).sort()).toEqual([
      'DATABASE_PASSWORD',
      'DATABASE_USER',
      'JWT_PREVIOUS_SECRETS',
      'JWT_SECRET',
      'REDIS_AUTH_TOKEN',
    ]);
    expect(JSON.stringify(container.Secrets)).toContain(':username::');
    const previous = container.Secrets?.find((s) => s.Name === 'JWT_PREVIOUS_SECRETS');
    expect(JSON.stringify(previous?.ValueFrom)).toContain('JwtPreviousSecrets');
  });

  it('uses a circuit breaker with rollback and zero-downtime deployments; ECS Exec is opt-in in prod', () => {
    expect(service('ApiService').resource.Properties).toMatchObject({
      DeploymentConfiguration: {
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
        MinimumHealthyPercent: 100,
        MaximumPercent: 200,
      },
      EnableExecuteCommand: false,
    });
    expect(service('WorkerService').resource.Properties.EnableExecuteCommand).toBe(false);
    expect(service('ApiService').resource.Properties.LoadBalancers).toHaveLength(1);
  });

  it('health-checks /health/ready and deregisters after 30 s', () => {
    app.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      HealthCheckPath: '/health/ready',
      Port: 3000,
      TargetType: 'ip',
      TargetGroupAttributes: Match.arrayWith([
        { Key: 'deregistration_delay.timeout_seconds', Value: '30' },
      ]),
    });
  });

  it('serves HTTPS with the configured certificate and redirects HTTP', () => {
    app.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: CERT }],
    });
    app.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      DefaultActions: [
        Match.objectLike({
          Type: 'redirect',
          RedirectConfig: Match.objectLike({ Protocol: 'HTTPS' }),
        }),
      ],
    });
    app.hasOutput('ApiUrl', { Value: 'https://api.example.com' });
  });

  it('writes ALB access logs and drops invalid headers', () => {
    app.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'access_logs.s3.enabled', Value: 'true' }]),
    });
    app.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      LoadBalancerAttributes: Match.arrayWith([
        { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' },
      ]),
    });
  });

  it('starts a service only after the cluster capacity providers are associated', () => {
    const [association] = onlyResource(app, 'AWS::ECS::ClusterCapacityProviderAssociations');
    for (const name of ['ApiService', 'WorkerService']) {
      expect(dependencyClosure(app, service(name).id)).toContain(association);
    }
  });

  it('associates a WAF web ACL with a rate-based rule and the managed rule groups', () => {
    const [aclId] = onlyResource(app, 'AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      Rules: Match.arrayWith([
        Match.objectLike({
          Statement: {
            RateBasedStatement: { Limit: config.wafRateLimitPer5Min, AggregateKeyType: 'IP' },
          },
          Action: { Block: {} },
        }),
        ...MANAGED_RULE_GROUPS.map((name) =>
          Match.objectLike({
            Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: name } },
          }),
        ),
      ]),
    });
    const [lbId] = onlyResource(app, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    app.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      ResourceArn: { Ref: lbId },
      WebACLArn: { 'Fn::GetAtt': [aclId, 'Arn'] },
    });
  });

  it('scales on CPU and on ALB requests per target (target from config)', () => {
    app.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: config.service.minTasks,
      MaxCapacity: config.service.maxTasks,
      ResourceId: Match.anyValue(),
    });
    app.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: Match.objectLike({
          PredefinedMetricType: 'ALBRequestCountPerTarget',
        }),
        TargetValue: requestsPerTargetPerMinute(config.service.cpu),
      }),
    });
    app.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
        TargetValue: config.service.cpuTargetPercent,
      }),
    });
  });

  it('may describe exactly the primary and replica instances for replica discovery', () => {
    const policies = Object.values(app.findResources('AWS::IAM::Policy'));
    const statements = policies.flatMap(
      (p) =>
        (p.Properties as { PolicyDocument: { Statement: Record<string, unknown>[] } })
          .PolicyDocument.Statement,
    );
    const describe = statements.filter((s) => s.Action === 'rds:DescribeDBInstances');
    expect(describe).toHaveLength(1);
    const resources = describe[0]?.Resource as unknown[];
    expect(resources).toHaveLength(1 + config.database.readReplicas);
    expect(resources).not.toContain('*');
  });
});

describe('task roles and the uploads bucket (least privilege per storage area)', () => {
  const BUCKET = 'plinth-prod-uploads-333333333333-us-east-1';
  /** A statement's resources as text: Fn::Join parts joined, tokens as `<token>`. */
  const text = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    if (join) return join[1].map((part) => (typeof part === 'string' ? part : '<token>')).join('');
    return JSON.stringify(value);
  };
  /** Every statement of the policies attached to the role whose logical id starts with `prefix`. */
  const statementsOf = (prefix: string) =>
    Object.values(app.findResources('AWS::IAM::Policy'))
      .filter((p) =>
        ((p.Properties as { Roles: { Ref: string }[] }).Roles ?? []).some((r) =>
          r.Ref?.startsWith(prefix),
        ),
      )
      .flatMap(
        (p) =>
          (p.Properties as { PolicyDocument: { Statement: Record<string, unknown>[] } })
            .PolicyDocument.Statement,
      );
  /** Resource → sorted S3 actions, over the bucket's statements. */
  const s3Access = (prefix: string) => {
    const out: Record<string, string[]> = {};
    for (const st of statementsOf(prefix)) {
      const actions = [st.Action].flat() as string[];
      if (!actions.some((a) => a.startsWith('s3:'))) continue;
      for (const resource of [st.Resource].flat().map(text)) {
        if (!resource.includes(BUCKET)) continue;
        const where = resource.slice(resource.indexOf(BUCKET) + BUCKET.length) || '(bucket)';
        out[where] = [...(out[where] ?? []), ...actions].sort();
      }
    }
    return out;
  };

  it.each([
    ['API', 'ApiTaskTaskRole', API_OBJECT_ACCESS],
    ['worker', 'WorkerTaskTaskRole', WORKER_OBJECT_ACCESS],
  ] as const)(
    'the %s role gets only its actions, each on its area prefix',
    (_name, role, grants) => {
      const access = s3Access(role);
      const verbs = { read: 's3:GetObject', write: 's3:PutObject', delete: 's3:DeleteObject' };
      expect(access).toEqual({
        '(bucket)': ['s3:ListBucket'],
        ...Object.fromEntries(
          grants.map((g) => [`/${g.area}/*`, g.access.map((a) => verbs[a]).sort()]),
        ),
      });
      // Nothing on the whole bucket's objects, no wildcard actions.
      expect(Object.keys(access)).not.toContain('/*');
      expect(
        Object.values(access)
          .flat()
          .some((a) => a.includes('*')),
      ).toBe(false);
    },
  );

  it('the API cannot write avatars or exports; the worker cannot read avatars back', () => {
    expect(s3Access('ApiTaskTaskRole')['/avatars/*']).toEqual(['s3:GetObject']);
    expect(s3Access('ApiTaskTaskRole')['/exports/*']).toEqual(['s3:GetObject']);
    expect(s3Access('WorkerTaskTaskRole')['/avatars/*']).toEqual([
      's3:DeleteObject',
      's3:PutObject',
    ]);
  });

  it.each(['ApiTaskTaskRole', 'WorkerTaskTaskRole'])(
    '%s: KMS only Decrypt/GenerateDataKey, and only through S3',
    (role) => {
      const kmsStatements = statementsOf(role).filter((st) =>
        ([st.Action].flat() as string[]).some((a) => a.startsWith('kms:')),
      );
      expect(kmsStatements).toHaveLength(1);
      expect([kmsStatements[0]!.Action].flat().sort()).toEqual([
        'kms:Decrypt',
        'kms:GenerateDataKey',
      ]);
      expect(JSON.stringify(kmsStatements[0]!.Condition)).toContain('kms:ViaService');
    },
  );
});

describe('telemetry (ADOT sidecar, SLO burn rates)', () => {
  it.each(['Api', 'Worker'])(
    '%s task: a non-essential collector scrapes METRICS_PORT and takes OTLP traces on localhost',
    (prefix) => {
      const { containers } = taskDefinition(`${prefix}Task`);
      const collector = containers.find((c) => c.Name === 'OtelCollector');
      expect(collector).toBeDefined();
      expect(collector!.Essential).toBe(false);
      // The config is JSON joined with the EMF log group's name (a deploy-time token).
      const config = JSON.stringify(envOf(collector!).AOT_CONFIG_CONTENT);
      expect(config).toContain('\\"targets\\":[\\"127.0.0.1:9464\\"]');
      expect(config).toContain('\\"traces\\":{\\"receivers\\":[\\"otlp\\"]');
      expect(config).toContain('\\"exporters\\":[\\"awsxray\\"]');
      expect(config).toContain('\\"exporters\\":[\\"awsemf\\"]');
      const appContainer = containers.find((c) => c.Name === 'App')!;
      expect(envOf(appContainer)).toMatchObject({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      });
    },
  );

  it('lets the task roles write traces to X-Ray', () => {
    const policies = JSON.stringify(app.findResources('AWS::IAM::Policy'));
    for (const action of ['xray:PutTraceSegments', 'xray:PutTelemetryRecords']) {
      expect(policies).toContain(action);
    }
  });

  it('alarms on multi-window burn rates of the availability and latency SLOs', () => {
    const composites = Object.values(app.findResources('AWS::CloudWatch::CompositeAlarm'));
    expect(composites).toHaveLength(4);
    const alarms = Object.entries(app.findResources('AWS::CloudWatch::Alarm'));
    const burn = (name: string) =>
      alarms.find(([id]) => id.includes(name))?.[1].Properties as {
        Threshold: number;
        Metrics: { Id: string; MetricStat?: { Period: number } }[];
      };
    for (const [name, threshold, periodSeconds] of [
      ['AvailabilityBurnFastLong', 14.4, 3600],
      ['AvailabilityBurnFastShort', 14.4, 300],
      ['LatencyBurnSlowLong', 6, 21600],
      ['LatencyBurnSlowShort', 6, 1800],
    ] as const) {
      const props = burn(name);
      expect({ name, threshold: props.Threshold }).toEqual({ name, threshold });
      const periods = props.Metrics.flatMap((m) => (m.MetricStat ? [m.MetricStat.Period] : []));
      expect(new Set(periods)).toEqual(new Set([periodSeconds]));
    }
    // Each composite needs both of its windows, and notifies the alarm topic.
    for (const composite of composites) {
      expect(JSON.stringify(composite.Properties.AlarmRule)).toMatch(/\) AND ALARM\(/);
      expect(composite.Properties.AlarmActions).toHaveLength(1);
    }
  });
});

describe('worker service', () => {
  const worker = taskDefinition('WorkerTask');
  const container = worker.containers.find((c) => c.Name === 'App') as Container;

  it('runs the worker command with a 120 s stop timeout and no load balancer', () => {
    expect(container.Command).toEqual(['worker']);
    expect(container.StopTimeout).toBe(120);
    expect(service('WorkerService').resource.Properties.LoadBalancers ?? []).toEqual([]);
  });

  it('publishes the backlog metric its own scaling reads', () => {
    expect(container.Environment).toEqual(
      expect.arrayContaining([{ Name: 'CLOUDWATCH_METRICS', Value: 'true' }]),
    );
  });

  it('scales on backlog per task via metric math, with a CPU safety net and min ≥ 1', () => {
    app.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: config.worker.minTasks,
      MaxCapacity: config.worker.maxTasks,
    });
    expect(config.worker.minTasks).toBeGreaterThanOrEqual(1);
    app.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        TargetValue: config.worker.backlogPerTaskTarget,
        CustomizedMetricSpecification: {
          Metrics: [
            Match.objectLike({
              Id: 'backlog',
              ReturnData: false,
              MetricStat: {
                Metric: {
                  Namespace: 'Plinth',
                  MetricName: 'QueueBacklog',
                  Dimensions: [{ Name: 'Environment', Value: 'prod' }],
                },
                Stat: 'Average',
              },
            }),
            Match.objectLike({
              Id: 'tasks',
              MetricStat: Match.objectLike({
                Metric: Match.objectLike({
                  Namespace: 'ECS/ContainerInsights',
                  MetricName: 'RunningTaskCount',
                }),
              }),
            }),
            Match.objectLike({
              Id: 'backlogPerTask',
              Expression: 'IF(tasks > 0, backlog / tasks, backlog)',
              ReturnData: true,
            }),
          ],
        },
      }),
    });
    app.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
        TargetValue: config.worker.cpuTargetPercent,
      }),
    });
  });

  it('may publish metrics only to the Plinth namespace', () => {
    app.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: 'cloudwatch:PutMetricData',
            Effect: 'Allow',
            Resource: '*',
            Condition: { StringEquals: { 'cloudwatch:namespace': 'Plinth' } },
          },
        ]),
      },
    });
  });
});

describe('migrations on deploy', () => {
  const migrate = taskDefinition('MigrateTask');
  const [stepId, step] = onlyResource(app, 'Custom::PlinthMigrations');
  const [machineId, machine] = onlyResource(app, 'AWS::StepFunctions::StateMachine', {
    DefinitionString: Match.anyValue(),
    TracingConfiguration: { Enabled: true },
  });
  const definition = JSON.parse(
    (machine.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1]
      .map((part) => (typeof part === 'string' ? part : 'TOKEN'))
      .join(''),
  ) as {
    StartAt: string;
    States: Record<
      string,
      {
        Type: string;
        Next?: string;
        Resource?: string;
        Catch?: { Next: string }[];
        Choices?: { Next: string }[];
        Default?: string;
      }
    >;
  };
  const policyStatements = (roleRef: unknown) =>
    Object.values(app.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes(JSON.stringify(roleRef)))
      .flatMap(
        (p) =>
          (p.Properties as { PolicyDocument: { Statement: Record<string, unknown>[] } })
            .PolicyDocument.Statement,
      );

  it('bootstraps the runtime role, then runs the migrate command as the owner', () => {
    const bootstrap = migrate.containers.find((c) => c.Name === 'DbBootstrap') as Container;
    const run = migrate.containers.find((c) => c.Name === 'Migrate') as Container;
    expect(bootstrap.Essential).toBe(false);
    expect(run.Command).toEqual(['migrate']);
    expect(run.DependsOn).toEqual([{ ContainerName: 'DbBootstrap', Condition: 'SUCCESS' }]);
    // Migrations use the master secret (DDL); runtime tasks use the app secret.
    expect(JSON.stringify(run.Secrets)).toContain('DatabasePrimarySecret');
    expect(JSON.stringify(taskDefinition('ApiTask').containers)).not.toContain(
      'DatabasePrimarySecret',
    );
  });

  it('runs the task to completion (runTask.sync), then succeeds only if every container exited 0', () => {
    expect(definition.StartAt).toBe('RunMigrateTask');
    const runState = definition.States.RunMigrateTask;
    expect(runState?.Resource).toMatch(/^arn:.*:states:::ecs:runTask\.sync$/);
    expect(runState?.Next).toBe('AllContainersExitedZero');
    expect(runState?.Catch?.map((c) => c.Next)).toEqual(['CouldNotRun']);
    const check = definition.States.AllContainersExitedZero;
    expect(check?.Type).toBe('Choice');
    expect(check?.Choices?.map((c) => c.Next)).toEqual(['Migrated']);
    expect(check?.Default).toBe('MigrationFailed');
    expect(definition.States.Migrated?.Type).toBe('Succeed');
    expect(definition.States.MigrationFailed?.Type).toBe('Fail');
    expect(definition.States.CouldNotRun?.Type).toBe('Fail');
  });

  it('lets the state machine run and tag exactly the migrate task, and pass only its roles', () => {
    const statements = policyStatements(
      (machine.Properties.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]
        ? { Ref: (machine.Properties.RoleArn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0] }
        : {},
    );
    const of = (action: string) => statements.filter((st) => [st.Action].flat().includes(action));
    expect(JSON.stringify(of('ecs:RunTask'))).toContain(migrate.id);
    expect(of('ecs:TagResource')).toEqual([
      expect.objectContaining({ Condition: { StringEquals: { 'ecs:CreateAction': 'RunTask' } } }),
    ]);
    const passRole = JSON.stringify(of('iam:PassRole'));
    expect(passRole).toContain('MigrateTaskTaskRole');
    expect(passRole).toContain('MigrateTaskExecutionRole');
    expect(passRole).not.toContain('ApiTask');
    expect(of('ecs:StopTask')).toHaveLength(1);
  });

  it('starts an execution of this state machine only, on every image change', () => {
    expect(step.Properties).toMatchObject({
      StateMachineArn: { Ref: machineId },
      ImageVersion: expect.stringMatching(/^[0-9a-f]{64}$/),
      TaskDefinitionArn: { Ref: migrate.id },
      ServiceTimeout: '3600',
    });
    const starts = Object.values(app.findResources('AWS::IAM::Policy')).flatMap((p) =>
      (
        p.Properties as { PolicyDocument: { Statement: Record<string, unknown>[] } }
      ).PolicyDocument.Statement.filter((st) =>
        [st.Action].flat().includes('states:StartExecution'),
      ),
    );
    for (const st of starts) {
      expect(JSON.stringify(st.Resource)).toMatch(/MigrationRunnerStateMachine|waiterstatemachine/);
    }
  });

  it('starts only after the rules that let the task reach PostgreSQL and Redis exist', () => {
    const [sgId] = onlyResource(app, 'AWS::EC2::SecurityGroup', {
      GroupDescription: 'Plinth one-off migration task',
    });
    const rules = Object.entries(app.findResources('AWS::EC2::SecurityGroupIngress')).filter(
      ([, r]) => JSON.stringify(r.Properties.SourceSecurityGroupId).includes(sgId),
    );
    expect(rules).toHaveLength(3); // primary, queue Redis, cache Redis
    const closure = dependencyClosure(app, stepId);
    for (const [ruleId] of rules) expect(closure).toContain(ruleId);
  });

  it('updates neither service before the migration succeeded', () => {
    for (const name of ['ApiService', 'WorkerService']) {
      expect(service(name).resource.DependsOn).toContain(stepId);
    }
  });
});

describe('WAF scoped to the API', () => {
  const [, acl] = onlyResource(app, 'AWS::WAFv2::WebACL');
  const rules = acl.Properties.Rules as Parameters<typeof evaluate>[0];
  const bodyRoutes = readBodyRoutes();

  it('counts (labels) the body rules of the core rule set instead of blocking', () => {
    const crs = rules.find((r) => r.Name === 'AWSManagedRulesCommonRuleSet');
    expect(
      (crs?.Statement.ManagedRuleGroupStatement as { RuleActionOverrides: unknown })
        .RuleActionOverrides,
    ).toEqual(Object.keys(SCOPED_BODY_RULES).map((Name) => ({ Name, ActionToUse: { Count: {} } })));
  });

  it('lists every body route of the service in the rule that blocks labelled requests elsewhere', () => {
    const scoped = JSON.stringify(rules.find((r) => r.Name === 'BodyRulesOutsideBodyRoutes'));
    expect(bodyRoutes.length).toBeGreaterThan(5);
    for (const route of bodyRoutes) {
      expect(scoped).toContain(`"SearchString":"${route.method}"`);
      expect(scoped).toContain(route.path.replace(/\{[^}]+\}/g, '[^/]+'));
    }
  });

  // The largest article the API accepts: every field at its maximum, 3-byte UTF-8 characters.
  const largest = {
    article: {
      title: 'T'.repeat(255),
      description: 'D'.repeat(1000),
      body: '€'.repeat(100_000),
      tagList: Array.from({ length: 20 }, (_, i) => `${i}`.padEnd(64, 't')),
    },
  };
  const quotingHtml = {
    article: {
      title: 'Escaping in templates',
      description: 'Why output encoding matters',
      body: 'Never render `<script>alert(document.cookie)</script>` or `<img src=x onerror=alert(1)>` raw.',
    },
  };

  it('lets the largest valid article and an HTML-quoting one through; the API limit is the guard', () => {
    expect(NewArticleRequest.safeParse(largest).success).toBe(true);
    expect(NewArticleRequest.safeParse(quotingHtml).success).toBe(true);
    const bytes = Buffer.byteLength(JSON.stringify(largest));
    expect(bytes).toBeGreaterThan(8192);
    expect(bytes).toBeLessThanOrEqual(configSchema.shape.BODY_LIMIT_BYTES.parse(undefined));
    for (const body of [JSON.stringify(largest), JSON.stringify(quotingHtml)]) {
      expect(evaluate(rules, { method: 'POST', path: '/api/articles', body })).toBe('ALLOW');
      expect(evaluate(rules, { method: 'PUT', path: '/api/articles/a-slug', body })).toBe('ALLOW');
      expect(evaluate(rules, { method: 'PUT', path: '/API/Articles/a-slug/', body })).toBe('ALLOW');
    }
  });

  it('still blocks big or script-carrying bodies sent anywhere else', () => {
    const big = 'x'.repeat(9000);
    const xss = '{"q":"<script>alert(1)</script>"}';
    expect(evaluate(rules, { method: 'POST', path: '/api/articles/a/favorite', body: big })).toBe(
      'BLOCK:BodyRulesOutsideBodyRoutes',
    );
    expect(evaluate(rules, { method: 'GET', path: '/api/articles', body: xss })).toBe(
      'BLOCK:BodyRulesOutsideBodyRoutes',
    );
    expect(evaluate(rules, { method: 'POST', path: '/api/articles/a/b/c', body: big })).toBe(
      'BLOCK:BodyRulesOutsideBodyRoutes',
    );
    expect(evaluate(rules, { method: 'DELETE', path: '/api/articles/a', body: xss })).toBe(
      'BLOCK:BodyRulesOutsideBodyRoutes',
    );
    expect(evaluate(rules, { method: 'GET', path: '/api/tags', body: '' })).toBe('ALLOW');
  });

  it('lets an avatar of up to AVATAR_MAX_BYTES through to PUT /api/user/avatar, and only there', () => {
    const max = configSchema.shape.AVATAR_MAX_BYTES.parse(undefined);
    // Binary image bytes can look like anything to the body rules, markup included.
    const body = `--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n${'<svg onload=x>'.padEnd(max, 'x')}\r\n--b--`;
    expect(evaluate(rules, { method: 'PUT', path: '/api/user/avatar', body })).toBe('ALLOW');
    for (const [method, path] of [
      ['POST', '/api/user/avatar'],
      ['PUT', '/api/user/avatar/another'],
      ['GET', '/api/user/avatar/0b5a5c1e-2f0e-4c53-9d2a-1c6f0e1f2a3b'],
      ['PUT', '/api/user/avatars'],
    ] as const) {
      expect(evaluate(rules, { method, path, body })).toBe('BLOCK:BodyRulesOutsideBodyRoutes');
    }
  });

  it('logs blocked and counted requests to a retained log group, credentials redacted', () => {
    const [logId] = onlyResource(app, 'AWS::Logs::LogGroup', {
      LogGroupName: 'aws-waf-logs-plinth-prod',
      RetentionInDays: config.logRetentionDays,
    });
    expect(logId).toBeDefined();
    app.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      RedactedFields: [
        { SingleHeader: { Name: 'authorization' } },
        { SingleHeader: { Name: 'cookie' } },
      ],
      LoggingFilter: Match.objectLike({ DefaultBehavior: 'DROP' }),
    });
    for (const rule of rules) {
      expect(
        (rule as { VisibilityConfig?: { SampledRequestsEnabled: boolean } }).VisibilityConfig
          ?.SampledRequestsEnabled,
      ).toBe(true);
    }
  });
});

describe('observability', () => {
  const alarms = Object.values(app.findResources('AWS::CloudWatch::Alarm'));
  const [topicId] = onlyResource(app, 'AWS::SNS::Topic');

  it('sends every alarm to the SNS topic, which mails the configured address', () => {
    expect(alarms.length).toBeGreaterThanOrEqual(18);
    // Burn-rate window alarms notify through their composite alarm (checked with the SLOs).
    const composites = JSON.stringify(app.findResources('AWS::CloudWatch::CompositeAlarm'));
    for (const [id, alarm] of Object.entries(app.findResources('AWS::CloudWatch::Alarm'))) {
      if (composites.includes(`"${id}"`)) continue;
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
    }
    app.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });

  it.each([
    ['AWS/ApplicationELB', 'TargetResponseTime'],
    ['AWS/ApplicationELB', 'HealthyHostCount'],
    ['AWS/ECS', 'CPUUtilization'],
    ['AWS/ECS', 'MemoryUtilization'],
    ['ECS/ContainerInsights', 'RunningTaskCount'],
    ['AWS/RDS', 'CPUUtilization'],
    ['AWS/RDS', 'DatabaseConnections'],
    ['AWS/RDS', 'FreeStorageSpace'],
    ['AWS/RDS', 'ReplicaLag'],
    ['AWS/ElastiCache', 'DatabaseMemoryUsagePercentage'],
    ['AWS/ElastiCache', 'Evictions'],
    ['Plinth', 'QueueBacklog'],
    ['Plinth', 'FailedJobs'],
  ])('alarms on %s %s', (namespace, metricName) => {
    expect(
      alarms.some(
        (a) => a.Properties.Namespace === namespace && a.Properties.MetricName === metricName,
      ),
    ).toBe(true);
  });

  it('alarms on the 5xx rate via metric math', () => {
    const math = alarms.find((a) =>
      JSON.stringify(a.Properties.Metrics ?? '').includes('HTTPCode_Target_5XX_Count'),
    );
    expect(math).toBeDefined();
  });

  it('has a dashboard with the required widgets', () => {
    const [, dashboard] = onlyResource(app, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const metric of [
      'TargetResponseTime',
      'HTTPCode_Target_5XX_Count',
      'HealthyHostCount',
      'MemoryUtilization',
      'RunningTaskCount',
      'ReplicaLag',
      'FreeStorageSpace',
      'Evictions',
      'QueueBacklog',
      'FailedJobs',
    ]) {
      expect(body).toContain(metric);
    }
    for (const p of ['p50', 'p95', 'p99']) expect(body).toContain(p);
  });

  it('enables Container Insights and sets log retention everywhere', () => {
    app.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
    for (const group of Object.values(app.findResources('AWS::Logs::LogGroup'))) {
      expect(group.Properties.RetentionInDays).toBe(config.logRetentionDays);
    }
  });
});
