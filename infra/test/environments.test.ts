import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// Synthesizes all three environments once (with cdk-nag) and checks what differs between them,
// that none has an unacknowledged finding, and that stateful logical IDs never change.
import { describe, expect, it } from '@jest/globals';
import { App, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { EnvName } from '../lib/config.js';
import { acknowledge, addNagChecks } from '../lib/nag.js';
import { logicalIds, synthesize } from './support.js';
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
    for (const plugin of env.report.pluginReports) {
      expect({ plugin: plugin.pluginName, violations: plugin.violations }).toEqual({
        plugin: plugin.pluginName,
        violations: [],
      });
    }
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
        [{ CapacityProvider: 'FARGATE_SPOT', Weight: 100 }],
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
    // dev's protection: the API's Redis-backed limiter, configured per environment.
    expect(apiEnvironment(envs.dev)).toMatchObject({
      RATE_LIMIT_PER_MINUTE: '20000',
      RATE_LIMIT_AUTH_PER_MINUTE: '30',
      RATE_LIMIT_LOGIN_PER_ACCOUNT: '10',
    });
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
        AlarmActions: [
          { Ref: Match.stringLikeRegexp('^WorkerServiceTaskCountTargetBacklogSteps') },
        ],
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
    expect(env).toMatchObject({
      SESSION_COOKIE_SECURE: 'false',
      TRUST_PROXY: 'true',
      CORS_ORIGINS: '*',
    });
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
