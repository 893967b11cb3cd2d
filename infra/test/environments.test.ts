import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// Synthesizes all three environments once (with cdk-nag) and checks what differs between them,
// that none has an unacknowledged finding, and that stateful logical IDs never change.
import { describe, expect, it } from '@jest/globals';
import { App, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { configSchema } from '../../service/src/config.js';
import { requestsPerTargetPerMinute } from '../lib/config.js';
import { connectionBudget, rdsMaxConnections } from '../lib/connection-budget.js';
import type { EnvName } from '../lib/config.js';
import { POSTGRES_MAJOR } from '../lib/constructs/database.js';
import { estimateCost, formatCostTable } from '../lib/cost.js';
import { acknowledge, addNagChecks } from '../lib/nag.js';
import { REPO_ROOT } from '../lib/stacks/app-stack.js';
import { logicalIds, openFindings, synthesize } from './support.js';
import type { Synthesized } from './support.js';

const envs: Record<EnvName, Synthesized> = {
  dev: synthesize('dev'),
  staging: synthesize('staging'),
  prod: synthesize('prod'),
};
const names = Object.keys(envs) as EnvName[];

/** Environment variables of the API container. */
function apiEnvironment(env: Synthesized): Record<string, unknown> {
  const [, task] = Object.entries(env.app.findResources('AWS::ECS::TaskDefinition')).find(([id]) =>
    id.startsWith('ApiTask'),
  ) ?? ['', undefined];
  const container = (
    task?.Properties.ContainerDefinitions as {
      Name: string;
      Environment: { Name: string; Value: unknown }[];
    }[]
  ).find((c) => c.Name === 'App');
  return Object.fromEntries((container?.Environment ?? []).map((e) => [e.Name, e.Value]));
}

/**
 * Renaming or moving any of these constructs would make CloudFormation REPLACE the resource,
 * i.e. create an empty database / cache / bucket / key. Change only with a migration plan.
 */
const PINNED: Record<string, Record<EnvName, string[]>> = {
  'AWS::KMS::Key': {
    dev: ['DataKey17AFBB84'],
    staging: ['DataKey17AFBB84'],
    prod: ['DataKey17AFBB84'],
  },
  'AWS::RDS::DBInstance': {
    dev: ['DatabasePrimaryEDE0B3D0'],
    staging: ['DatabasePrimaryEDE0B3D0', 'DatabaseReplica1ED560A1F'],
    prod: ['DatabasePrimaryEDE0B3D0', 'DatabaseReplica1ED560A1F', 'DatabaseReplica2035311FF'],
  },
  'AWS::ElastiCache::ReplicationGroup': {
    dev: ['QueueRedisReplicationGroupD70D3494'],
    staging: ['CacheRedisReplicationGroup14F18A24', 'QueueRedisReplicationGroupD70D3494'],
    prod: ['CacheRedisReplicationGroup14F18A24', 'QueueRedisReplicationGroupD70D3494'],
  },
  'AWS::S3::Bucket': {
    dev: ['LogsBucket9C4D8843', 'UploadsBucket5E5E9B64'],
    staging: ['LogsBucket9C4D8843', 'UploadsBucket5E5E9B64'],
    prod: ['LogsBucket9C4D8843', 'UploadsBucket5E5E9B64'],
  },
  'AWS::SecretsManager::Secret': Object.fromEntries(
    (['dev', 'staging', 'prod'] as const).map((env) => [
      env,
      [
        'DatabaseAppUserSecret9C33AA81',
        'JwtSecretB8834B39',
        ...(env === 'dev' ? [] : ['JwtPreviousSecrets53A8B206']),
        {
          dev: 'PlinthdevDataDatabasePrimarySecret9D8156F73fdaad7efa858a3daf9490cf0a702aeb',
          staging: 'PlinthstagingDataDatabasePrimarySecretAE3A5FE43fdaad7efa858a3daf9490cf0a702aeb',
          prod: 'PlinthprodDataDatabasePrimarySecret163B78743fdaad7efa858a3daf9490cf0a702aeb',
        }[env],
        'RedisAuthToken241E45D5',
      ].sort(),
    ]),
  ) as Record<EnvName, string[]>,
};

describe.each(names)('%s environment', (envName) => {
  const env = envs[envName];

  it('passes cdk-nag AwsSolutions and CloudFormation validation with zero open findings', () => {
    // synthesize() would already have thrown on an error-level finding; warnings must be zero too.
    expect(env.report.pluginReports.length).toBeGreaterThan(0);
    expect(openFindings(env.report)).toEqual({});
  });

  it.each(Object.keys(PINNED))('pins the logical IDs of stateful %s resources', (type) => {
    expect(logicalIds(env.data, type)).toEqual(PINNED[type]?.[envName]);
  });

  it('keeps stateful resources only in the data stack', () => {
    for (const template of [env.network, env.app]) {
      for (const type of Object.keys(PINNED)) expect(logicalIds(template, type)).toEqual([]);
    }
  });

  it('creates the configured number of read replicas', () => {
    env.data.resourcePropertiesCountIs(
      'AWS::RDS::DBInstance',
      { SourceDBInstanceIdentifier: Match.anyValue() },
      env.config.database.readReplicas,
    );
  });

  it('gives the database stack termination protection exactly when data is protected', () => {
    expect(env.terminationProtection[`Plinth-${envName}-Data`]).toBe(env.config.protectData);
    expect(env.terminationProtection[`Plinth-${envName}-App`]).toBe(false);
  });

  it('puts every stack in the configured account and region', () => {
    expect(env.stacks.data.account).toBe(env.config.account);
    expect(env.stacks.app.region).toBe(env.config.region);
    const azs = Object.values(env.network.findResources('AWS::EC2::Subnet')).map(
      (s) => (s.Properties as { AvailabilityZone: string }).AvailabilityZone,
    );
    expect([...new Set(azs)].sort()).toEqual([...env.config.availabilityZones].sort());
    // No AZ context lookup: `cdk synth` works without credentials.
    expect(env.stacks.network.availabilityZones).toEqual(env.config.availabilityZones);
  });

  it('runs the queue Redis with noeviction, TLS and AUTH, never in cluster mode', () => {
    env.data.hasResourceProperties('AWS::ElastiCache::ParameterGroup', {
      Properties: { 'maxmemory-policy': 'noeviction' },
    });
    const groups = env.data.findResources('AWS::ElastiCache::ReplicationGroup');
    for (const group of Object.values(groups)) {
      const p = group.Properties as Record<string, unknown>;
      expect(p).toMatchObject({
        TransitEncryptionEnabled: true,
        TransitEncryptionMode: 'required',
        AtRestEncryptionEnabled: true,
        NumCacheClusters: 1 + env.config.redis.replicas,
        AutomaticFailoverEnabled: env.config.redis.replicas > 0,
        MultiAZEnabled: env.config.redis.replicas > 0,
      });
      expect(p.NumNodeGroups).toBeUndefined();
      expect(JSON.stringify(p.AuthToken)).toContain('{{resolve:secretsmanager:');
    }
  });
});

describe('per-environment differences', () => {
  it('dev: one NAT instance, no NAT gateway, no interface endpoints', () => {
    envs.dev.network.resourceCountIs('AWS::EC2::NatGateway', 0);
    envs.dev.network.hasResourceProperties('AWS::EC2::Instance', { InstanceType: 't4g.nano' });
    envs.dev.network.resourcePropertiesCountIs(
      'AWS::EC2::VPCEndpoint',
      { VpcEndpointType: 'Interface' },
      0,
    );
  });

  it('prod: one NAT gateway per AZ and interface endpoints for ECR, Logs, Secrets Manager, CloudWatch', () => {
    envs.prod.network.resourceCountIs('AWS::EC2::NatGateway', 3);
    envs.prod.network.resourceCountIs('AWS::EC2::Instance', 0);
    envs.prod.network.resourcePropertiesCountIs(
      'AWS::EC2::VPCEndpoint',
      { VpcEndpointType: 'Interface' },
      5,
    );
  });

  it.each(names)('%s: S3 gateway endpoint and VPC flow logs', (envName) => {
    envs[envName].network.resourcePropertiesCountIs(
      'AWS::EC2::VPCEndpoint',
      { VpcEndpointType: 'Gateway' },
      1,
    );
    envs[envName].network.resourceCountIs('AWS::EC2::FlowLog', 1);
  });

  it('dev: one Redis group serves cache and queue with noeviction', () => {
    expect(envs.dev.stacks.data.cacheRedis).toBe(envs.dev.stacks.data.queueRedis);
    envs.dev.data.resourceCountIs('AWS::ElastiCache::ParameterGroup', 1);
    envs.dev.data.resourceCountIs('AWS::ElastiCache::ReplicationGroup', 1);
  });

  it('staging and prod: a separate cache group that may evict', () => {
    for (const env of [envs.staging, envs.prod]) {
      env.data.hasResourceProperties('AWS::ElastiCache::ParameterGroup', {
        Properties: { 'maxmemory-policy': 'allkeys-lru' },
      });
    }
  });

  it('prod: Multi-AZ primary with deletion protection and snapshot on removal', () => {
    envs.prod.data.hasResource('AWS::RDS::DBInstance', {
      Properties: Match.objectLike({ MultiAZ: true, DeletionProtection: true }),
      DeletionPolicy: 'Snapshot',
      UpdateReplacePolicy: 'Snapshot',
    });
    for (const type of ['AWS::KMS::Key', 'AWS::S3::Bucket', 'AWS::SecretsManager::Secret']) {
      const resources = Object.values(envs.prod.data.findResources(type));
      expect(resources.length).toBeGreaterThan(0);
      for (const r of resources) expect(r.DeletionPolicy).toBe('Retain');
    }
  });

  it('dev: single-AZ primary that can be torn down', () => {
    envs.dev.data.hasResource('AWS::RDS::DBInstance', {
      Properties: Match.objectLike({ MultiAZ: false, DeletionProtection: false }),
      DeletionPolicy: 'Delete',
    });
  });

  it('dev: API and worker entirely on Fargate Spot; prod: API on demand, worker keeps an on-demand base', () => {
    const strategies = (env: Synthesized) =>
      Object.values(env.app.findResources('AWS::ECS::Service')).map(
        (s) => (s.Properties as { CapacityProviderStrategy: unknown }).CapacityProviderStrategy,
      );
    expect(strategies(envs.dev)).toEqual(
      expect.arrayContaining([
        [{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }],
        [{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }],
      ]),
    );
    expect(strategies(envs.prod)).toEqual(
      expect.arrayContaining([
        [{ CapacityProvider: 'FARGATE', Weight: 1 }],
        [
          { CapacityProvider: 'FARGATE', Weight: 50, Base: 1 },
          { CapacityProvider: 'FARGATE_SPOT', Weight: 50 },
        ],
      ]),
    );
  });

  it('staging and prod associate a WAF web ACL with the ALB; dev relies on the app rate limiter', () => {
    for (const env of [envs.staging, envs.prod]) {
      expect(env.config.wafEnabled).toBe(true);
      env.app.resourceCountIs('AWS::WAFv2::WebACL', 1);
      const [lbId] = logicalIds(env.app, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
      env.app.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
        ResourceArn: { Ref: lbId },
      });
    }
    expect(envs.dev.config.wafEnabled).toBe(false);
    envs.dev.app.resourceCountIs('AWS::WAFv2::WebACL', 0);
    envs.dev.app.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
    // dev's protection: the API's Redis-backed limiter, always on with the service's defaults
    // (RATE_LIMIT_* not passed unless configured).
    expect(Object.keys(apiEnvironment(envs.dev)).filter((k) => k.startsWith('RATE_LIMIT'))).toEqual(
      [],
    );
  });

  it('staging and prod: Container Insights and backlog-per-task metric math for the worker', () => {
    for (const env of [envs.staging, envs.prod]) {
      env.app.hasResourceProperties('AWS::ECS::Cluster', {
        ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
      });
      env.app.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingScalingPolicyConfiguration: Match.objectLike({
          CustomizedMetricSpecification: {
            Metrics: Match.arrayWith([
              Match.objectLike({ Expression: 'IF(tasks > 0, backlog / tasks, backlog)' }),
            ]),
          },
        }),
      });
      env.app.resourcePropertiesCountIs(
        'AWS::ApplicationAutoScaling::ScalingPolicy',
        { PolicyType: 'StepScaling' },
        0,
      );
    }
  });

  it('dev: no Container Insights; the worker steps on Plinth/QueueBacklog between 1 and 2 tasks', () => {
    envs.dev.app.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'disabled' }],
    });
    expect(JSON.stringify(envs.dev.app.toJSON())).not.toContain('ECS/ContainerInsights');
    const workerTarget = Object.entries(
      envs.dev.app.findResources('AWS::ApplicationAutoScaling::ScalableTarget'),
    ).find(([id]) => id.startsWith('WorkerService'));
    expect(workerTarget?.[1].Properties).toMatchObject({ MinCapacity: 1, MaxCapacity: 2 });
    const target = envs.dev.config.worker.backlogPerTaskTarget;
    const steps = Object.values(
      envs.dev.app.findResources('AWS::ApplicationAutoScaling::ScalingPolicy', {
        Properties: { PolicyType: 'StepScaling' },
      }),
    ).map((p) => {
      const c = p.Properties.StepScalingPolicyConfiguration as {
        AdjustmentType: string;
        StepAdjustments: { ScalingAdjustment: number }[];
      };
      expect(p.Properties.ScalingTargetId).toEqual({ Ref: workerTarget?.[0] });
      expect(c.AdjustmentType).toBe('ChangeInCapacity');
      return c.StepAdjustments.map((a) => a.ScalingAdjustment);
    });
    expect(steps.sort()).toEqual([[-1], [1]]);
    // Both step alarms watch the worker-published backlog: scale out at ≥ target, in at ≤ target/2.
    for (const [threshold, operator] of [
      [target, 'GreaterThanOrEqualToThreshold'],
      [Math.floor(target / 2), 'LessThanOrEqualToThreshold'],
    ] as const) {
      envs.dev.app.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'Plinth',
        MetricName: 'QueueBacklog',
        Dimensions: [{ Name: 'Environment', Value: 'dev' }],
        Threshold: threshold,
        ComparisonOperator: operator,
        AlarmActions: [{ Ref: Match.stringLikeRegexp('^WorkerServiceTaskCountTargetSteps') }],
      });
    }
    // The "no worker running" alarm uses the free AWS/ECS metric, missing = breaching.
    envs.dev.app.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/ECS',
      MetricName: 'CPUUtilization',
      Statistic: 'SampleCount',
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
  });

  it('dev: PUBLIC_URL is the plain-HTTP ALB address and the session cookie is not Secure', () => {
    const env = apiEnvironment(envs.dev);
    const [lbId] = logicalIds(envs.dev.app, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    expect(env.PUBLIC_URL).toEqual({
      'Fn::Join': ['', ['http://', { 'Fn::GetAtt': [lbId, 'DNSName'] }]],
    });
    expect(env).toMatchObject({ SESSION_COOKIE_SECURE: 'false', TRUST_PROXY: 'true' });
    expect(JSON.stringify(envs.dev.app.toJSON())).not.toContain('JWT_PREVIOUS_SECRETS');
  });

  it('without a domain the ALB serves plain HTTP only', () => {
    envs.dev.app.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
    envs.dev.app.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      Protocol: 'HTTP',
      DefaultActions: [Match.objectLike({ Type: 'forward' })],
    });
  });
});

/**
 * Variables the platform sets that the app does not read yet, each with the open issue that will
 * consume it. The list can only shrink: once the service's config schema knows a variable, the
 * test below fails until it is removed from here.
 */
const NOT_READ_YET: Record<string, string> = {};

/** OTEL_* variables the platform sets, each one the OpenTelemetry SDK reads. */
const OTEL_READ_BY_SDK = new Set([
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_SERVICE_NAME',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
]);

type ContainerDef = {
  Name: string;
  Command?: string[];
  Environment?: { Name: string; Value: unknown }[];
  Secrets?: { Name: string }[];
};
/** Every container that runs the app image (service, worker, migrate), by task. */
function appContainers(env: Synthesized): [string, ContainerDef][] {
  return Object.entries(env.app.findResources('AWS::ECS::TaskDefinition')).flatMap(([id, t]) =>
    (t.Properties.ContainerDefinitions as ContainerDef[])
      .filter((c) => ['service', 'worker', 'migrate'].includes(c.Command?.[0] ?? ''))
      .map((c): [string, ContainerDef] => [`${id}/${c.Name}`, c]),
  );
}

describe("every container's environment, parsed with the service's own config schema", () => {
  const shape = configSchema.shape as Record<
    string,
    (typeof configSchema.shape)[keyof typeof configSchema.shape]
  >;

  it('lists only variables the app does not read yet as exceptions', () => {
    for (const name of Object.keys(NOT_READ_YET)) {
      expect({ name, readByTheApp: name in shape }).toEqual({ name, readByTheApp: false });
    }
  });

  it.each(names)(
    '%s: every variable is read by the app, valid, and not a restated default',
    (envName) => {
      const problems: string[] = [];
      for (const [where, c] of appContainers(envs[envName])) {
        for (const { Name, Value } of c.Environment ?? []) {
          const field = shape[Name];
          // The standard OpenTelemetry variables are read by the SDK (service/src/tracing.ts),
          // not by the app's config schema.
          if (OTEL_READ_BY_SDK.has(Name)) continue;
          if (!field) {
            if (!NOT_READ_YET[Name]) problems.push(`${where}: ${Name} is not read by the app`);
            continue;
          }
          if (typeof Value !== 'string') continue; // a deploy-time value (endpoint, URL)
          const parsed = field.safeParse(Value);
          if (!parsed.success) problems.push(`${where}: ${Name}=${Value} is invalid`);
          const byDefault = field.safeParse(undefined);
          if (byDefault.success && JSON.stringify(byDefault.data) === JSON.stringify(parsed.data)) {
            problems.push(`${where}: ${Name}=${Value} restates the service default`);
          }
        }
        for (const { Name } of c.Secrets ?? []) {
          if (!shape[Name] && !NOT_READ_YET[Name])
            problems.push(`${where}: secret ${Name} is not read`);
        }
      }
      expect(problems).toEqual([]);
    },
  );
});

describe('capacity', () => {
  it.each(names)('%s: requests-per-target target follows the API task size', (envName) => {
    const env = envs[envName];
    env.app.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: Match.objectLike({
          PredefinedMetricType: 'ALBRequestCountPerTarget',
        }),
        TargetValue: requestsPerTargetPerMinute(env.config.service.cpu),
      }),
    });
  });

  it('dev (0.25 vCPU) aims at half the requests of a 0.5 vCPU task', () => {
    expect(requestsPerTargetPerMinute(envs.dev.config.service.cpu)).toBe(
      requestsPerTargetPerMinute(envs.prod.config.service.cpu) / 2,
    );
  });

  it.each(names)(
    '%s: at the task maxima the pools fit each database instance with headroom (sizing rule)',
    (envName) => {
      const env = envs[envName];
      const shape = configSchema.shape as Record<string, { parse(v: unknown): unknown }>;
      /** A pool setting as the container running `command` resolves it (its value, else the default). */
      const setting = (command: string, name: string): number => {
        const found = appContainers(env).find(([, c]) => c.Command?.[0] === command);
        if (!found) throw new Error(`no ${command} container`);
        const value = found[1].Environment?.find((e) => e.Name === name)?.Value;
        return shape[name]!.parse(value) as number;
      };
      const budget = connectionBudget(env.config, {
        apiPrimary: setting('service', 'DATABASE_POOL_MAX'),
        apiReplica: setting('service', 'DATABASE_REPLICA_POOL_MAX'),
        worker: setting('worker', 'DATABASE_POOL_MAX'),
        migrate: setting('migrate', 'DATABASE_POOL_MAX'),
      });
      expect(budget.primary.demand).toBeLessThanOrEqual(budget.primary.budget);
      expect(budget.replica === undefined).toBe(env.config.database.readReplicas === 0);
      if (budget.replica) expect(budget.replica.demand).toBeLessThanOrEqual(budget.replica.budget);
      // The connections alarm fires before the instance refuses connections.
      expect(env.config.database.maxConnectionsAlarm).toBeLessThan(budget.primary.maxConnections);
    },
  );

  it('RDS max_connections follows the instance memory, and an unknown class is named', () => {
    expect(rdsMaxConnections('t4g.micro')).toBe(112);
    expect(rdsMaxConnections('t4g.medium')).toBe(450);
    expect(rdsMaxConnections('m7g.large')).toBe(901);
    expect(() => rdsMaxConnections('x9.huge')).toThrow(/db\.x9\.huge.*RDS_INSTANCE_MEMORY_GIB/);
  });

  it.each(['staging', 'prod'] as const)(
    '%s: read replicas use gp3 and grow like the primary',
    (envName) => {
      const env = envs[envName];
      const replicas = Object.values(
        env.data.findResources('AWS::RDS::DBInstance', {
          Properties: { SourceDBInstanceIdentifier: Match.anyValue() },
        }),
      );
      expect(replicas.length).toBe(env.config.database.readReplicas);
      for (const r of replicas) {
        expect(r.Properties).toMatchObject({
          StorageType: 'gp3',
          MaxAllocatedStorage: env.config.database.maxAllocatedStorageGiB,
        });
      }
    },
  );
});

describe('cost estimate generated from the templates', () => {
  const estimates = Object.fromEntries(
    names.map((n) => [
      n,
      estimateCost(
        envs[n].config,
        [envs[n].network, envs[n].data, envs[n].app].map((t) => t.toJSON()),
      ),
    ]),
  ) as Record<EnvName, ReturnType<typeof estimateCost>>;
  const docs = readFileSync(join(REPO_ROOT, 'docs', 'infra.md'), 'utf8');

  it('keeps dev at or below $60/month with the ALB, showing what each lever saves', () => {
    const dev = estimates.dev;
    expect(dev.total).toBeLessThanOrEqual(60);
    expect(dev.lines.some((l) => l.item.startsWith('ALB'))).toBe(true);
    expect(dev.levers.map((l) => l.lever)).toEqual([
      expect.stringContaining('office hours: database stopped'),
      expect.stringContaining('office hours: API and worker at 0 tasks'),
      'no dashboard',
    ]);
    // Without the levers dev costs what the hand-computed table said ($71.98, rounding aside).
    const without = dev.total + dev.levers.reduce((s, l) => s + l.saves, 0);
    expect(Math.abs(without - 71.98)).toBeLessThan(0.05);
  });

  it('prices every line from the template: sizes and counts, not constants', () => {
    expect(estimates.prod.lines.filter((l) => l.item.startsWith('RDS replica'))).toHaveLength(2);
    expect(estimates.staging.lines.some((l) => l.item.startsWith('AWS WAF'))).toBe(true);
    expect(estimates.dev.lines.some((l) => l.item.startsWith('AWS WAF'))).toBe(false);
    expect(estimates.prod.total).toBeGreaterThan(estimates.staging.total);
  });

  it.each(names)(
    '%s: docs/infra.md shows exactly the generated table (npm run cost:docs)',
    (envName) => {
      expect(docs).toContain(formatCostTable(estimates[envName]));
    },
  );
});

describe('office hours (dev)', () => {
  it('scales both services to zero and back, and stops and starts the database', () => {
    const actions = Object.values(
      envs.dev.app.findResources('AWS::ApplicationAutoScaling::ScalableTarget'),
    ).flatMap(
      (t) =>
        (t.Properties.ScheduledActions as { Schedule: string; ScalableTargetAction: object }[]) ??
        [],
    );
    expect(actions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Schedule: 'cron(0 19 ? * MON-FRI *)',
          ScalableTargetAction: { MinCapacity: 0, MaxCapacity: 0 },
        }),
        expect.objectContaining({
          Schedule: 'cron(0 7 ? * MON-FRI *)',
          ScalableTargetAction: { MinCapacity: 1, MaxCapacity: 2 },
        }),
      ]),
    );
    expect(actions).toHaveLength(4);
    const schedules = Object.values(envs.dev.app.findResources('AWS::Scheduler::Schedule')).map(
      (r) => r.Properties as { ScheduleExpression: string; Target: { Arn: string } },
    );
    const api = (arn: unknown) => JSON.stringify(arn).replace(/^.*:scheduler:::aws-sdk:|".*$/g, '');
    expect(schedules.map((x) => `${x.ScheduleExpression} ${api(x.Target.Arn)}`).sort()).toEqual(
      [
        'cron(0 19 ? * MON-FRI *) rds:stopDBInstance',
        'cron(0 7 ? * MON-FRI *) rds:startDBInstance',
        'cron(0 19 ? * MON-FRI *) cloudwatch:disableAlarmActions',
        'cron(30 7 ? * MON-FRI *) cloudwatch:enableAlarmActions',
      ].sort(),
    );
  });

  it('lets the scheduler stop and start only the dev database', () => {
    const statements = Object.values(envs.dev.app.findResources('AWS::IAM::Policy'))
      .flatMap(
        (p) =>
          (p.Properties as { PolicyDocument: { Statement: Record<string, unknown>[] } })
            .PolicyDocument.Statement,
      )
      .filter((st) => String(st.Action).startsWith('rds:'));
    expect(statements.flatMap((st) => [st.Action].flat()).sort()).toEqual(
      ['rds:DescribeDBInstances', 'rds:StartDBInstance', 'rds:StopDBInstance'].sort(),
    );
    for (const st of statements.filter((x) => x.Action !== 'rds:DescribeDBInstances')) {
      expect(JSON.stringify(st.Resource)).toContain('DatabasePrimary');
    }
  });

  it('is never on where data is protected', () => {
    envs.prod.app.resourceCountIs('AWS::Scheduler::Schedule', 0);
    envs.staging.app.resourceCountIs('AWS::Scheduler::Schedule', 0);
  });
});

describe('one PostgreSQL major version', () => {
  // CI (.ci/run, also on GitHub) runs the machine's packaged server instead, so the older majors
  // of the supported range stay tested (docs/operations.md, "Migrations").
  it('RDS, the bootstrap image and docker compose run the same major', () => {
    expect(JSON.stringify(envs.prod.data.toJSON())).toContain(
      `"EngineVersion":"${POSTGRES_MAJOR}"`,
    );
    expect(JSON.stringify(envs.prod.app.toJSON())).toContain(`postgres:${POSTGRES_MAJOR}-alpine`);
    const compose = readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
    expect(compose).toContain(`image: postgres:\${POSTGRES_VERSION:-${POSTGRES_MAJOR}}`);
  });
});

/** Logical IDs of App resources whose replacement would be felt outside the stack. */
const KEPT_APP_IDS = [
  'ClusterEB0386A7',
  'LoadBalancerBE9EEC3A',
  'LoadBalancerHttpF4A6AC3E',
  'ApiTargets1DEA05B3',
  'ApiServiceC9037CF0',
  'ApiServiceTaskCountTargetBFC64025',
  'WorkerService99815FA9',
  'WorkerServiceTaskCountTarget94398C8F',
  'ApiLogs3D05D88B',
  'WorkerLogsC1193B08',
  'MigrateLogs5B280EF4',
  'DbBootstrapLogs66C718AB',
];

describe('app resources keep the logical IDs they had before the construct split', () => {
  it.each(names)('%s', (envName) => {
    const ids = Object.keys(envs[envName].app.toJSON().Resources as object);
    const expected = [
      ...KEPT_APP_IDS,
      ...(envs[envName].config.wafEnabled ? ['WafWebAclBE24253C', 'WafAssociationDD3C2DE9'] : []),
      ...(envs[envName].config.containerInsights ? ['WorkerBacklogPerTaskScaling'] : []),
    ];
    expect(expected.filter((id) => !ids.includes(id))).toEqual([]);
  });
});

// Negative control: proves the cdk-nag plugin is active and fails synthesis on a finding, so the
// zero-findings assertions above are meaningful.
function synthBucket(acknowledged: boolean): () => void {
  return () => {
    const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'plinth-nag-')) });
    const stack = new Stack(app, 'NagProbe');
    const bucket = new s3.Bucket(stack, 'Bucket', { enforceSSL: true });
    if (acknowledged) acknowledge(bucket, ['AwsSolutions-S1'], 'probe: access logs not needed');
    addNagChecks(app);
    app.synth();
  };
}

describe('cdk-nag wiring', () => {
  it('fails synthesis on an unacknowledged AwsSolutions finding', () => {
    expect(synthBucket(false)).toThrow(/AwsSolutions-S1/);
  });

  it('passes once the finding is acknowledged with a reason', () => {
    expect(synthBucket(true)).not.toThrow();
  });
});
