import { describe, expect, it } from '@jest/globals';
import { exampleContext } from '../lib/cdk-context.js';
import {
  ConfigError,
  MEASURED_TASK_CAPACITY_RPS,
  SCALING_HEADROOM,
  loadConfig,
  requestsPerTargetPerMinute,
} from '../lib/config.js';
import type { LoadConfigOptions } from '../lib/config.js';

/** Loads with the example HTTPS context of staging/prod, like `npm run synth`. */
const load = (context: Record<string, string> = {}, rest: Partial<LoadConfigOptions> = {}) => {
  const all = { ...exampleContext(context.env ?? 'dev'), ...context };
  return loadConfig({ context: (key) => all[key], ...rest });
};
/** Loads exactly the given context (what `npx cdk synth -c ...` sees). */
const loadBare = (context: Record<string, string>) =>
  loadConfig({ context: (key) => context[key] });
const failure = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('defaults to dev and has explicit account, region and AZs for every environment', () => {
    expect(load().envName).toBe('dev');
    for (const env of ['dev', 'staging', 'prod']) {
      const c = load({ env });
      expect(c.account).toMatch(/^\d{12}$/);
      expect(c.region).toBe('us-east-1');
      expect(c.availabilityZones.length).toBeGreaterThanOrEqual(2);
    }
  });

  it('takes account/region/AZs from context first, then CDK_DEFAULT_*', () => {
    const fromEnv = load({}, { env: { CDK_DEFAULT_ACCOUNT: '999999999999' } });
    expect(fromEnv.account).toBe('999999999999');
    const c = load(
      { account: '123456789012', region: 'eu-west-1', azs: 'eu-west-1a,eu-west-1b' },
      { env: { CDK_DEFAULT_ACCOUNT: '999999999999', CDK_DEFAULT_REGION: 'us-west-2' } },
    );
    expect(c).toMatchObject({
      account: '123456789012',
      region: 'eu-west-1',
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    });
  });

  it('rejects an unknown environment and lists the valid ones', () => {
    expect(failure(() => load({ env: 'qa' }))).toMatch(
      /unknown environment "qa".*dev\|staging\|prod/,
    );
  });

  it('says which AZs to pass when the region is overridden without them', () => {
    const message = failure(() => load({ region: 'eu-west-1' }));
    expect(message).toContain('not in region eu-west-1');
    expect(message).toContain('-c azs=eu-west-1a,eu-west-1b');
  });

  it('requires a certificate in the same region when a domain is set', () => {
    const message = failure(() => load({ domainName: 'api.example.com' }));
    expect(message).toContain('domain.certificateArn must be an ACM certificate ARN in us-east-1');
    expect(
      load({
        domainName: 'api.example.com',
        certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/abc-123',
      }).domain?.domainName,
    ).toBe('api.example.com');
  });

  it('exempts the NAT from the WAF rate rule in staging only, and only where it has fixed addresses', () => {
    expect(['dev', 'staging', 'prod'].map((env) => load({ env }).wafExemptNat)).toEqual([
      false,
      true,
      false,
    ]);
    expect(load({ env: 'staging', wafExemptNat: 'false' }).wafExemptNat).toBe(false);
    // dev: no WAF and a NAT instance without an Elastic IP.
    expect(failure(() => load({ env: 'dev', wafExemptNat: 'true' }))).toContain(
      'wafExemptNat needs wafEnabled: true and network.natType "gateway"',
    );
  });

  it('rejects malformed account ids and alarm addresses', () => {
    expect(failure(() => load({ account: '1234' }))).toContain('12-digit AWS account id');
    expect(failure(() => load({ alarmEmail: 'not-an-address' }))).toContain('alarmEmail');
  });

  it('has cost-driving features per environment with documented defaults', () => {
    const [dev, staging, prod] = [
      load({ env: 'dev' }),
      load({ env: 'staging' }),
      load({ env: 'prod' }),
    ];
    expect(dev).toMatchObject({
      wafEnabled: false,
      containerInsights: false,
      jwtPreviousSecrets: false,
      service: { spot: true, cpu: 256, memoryMiB: 512 },
      network: { natType: 'instance', interfaceEndpoints: false },
      database: { instanceType: 't4g.micro', multiAz: false, allocatedStorageGiB: 20 },
      redis: { nodeType: 'cache.t4g.micro', replicas: 0, sharedCacheAndQueue: true },
    });
    for (const c of [staging, prod]) {
      expect(c).toMatchObject({
        wafEnabled: true,
        containerInsights: true,
        jwtPreviousSecrets: true,
        service: { spot: false },
      });
    }
    for (const c of [dev, staging, prod]) {
      // Nothing restated: the service's own defaults apply unless a value is configured.
      expect(c.rateLimit).toEqual({});
      expect(c.corsOrigins).toBeUndefined();
    }
    expect([dev.ecsExec, staging.ecsExec, prod.ecsExec]).toEqual([true, true, false]);
    expect(load({ env: 'prod', ecsExec: 'true' }).ecsExec).toBe(true);
    expect(dev.officeHours).toEqual({
      timeZone: 'UTC',
      startHour: 7,
      stopHour: 19,
      weekDays: 'MON-FRI',
    });
    expect(load({ officeHours: 'false' }).officeHours).toBeUndefined();
    expect(prod.officeHours).toBeUndefined();
    expect(load({ corsOrigins: 'https://app.example.com' }).corsOrigins).toBe(
      'https://app.example.com',
    );
  });

  it('reports every problem at once', () => {
    const message = failure(() => load({ account: 'x', alarmEmail: 'y' }));
    expect(message.split('\n  - ')).toHaveLength(3);
  });

  it('derives the requests-per-target target from the task size (measured for 0.5 vCPU)', () => {
    expect(requestsPerTargetPerMinute(512)).toBe(
      Math.round(MEASURED_TASK_CAPACITY_RPS * 60 * SCALING_HEADROOM),
    );
    expect(requestsPerTargetPerMinute(256)).toBe(1170);
    expect(requestsPerTargetPerMinute(1024)).toBe(4680);
  });

  it.each(['staging', 'prod'])(
    'refuses %s without HTTPS and says what to set; dev may run plain HTTP',
    (env) => {
      const message = failure(() => loadBare({ env }));
      expect(message).toContain(`${env} must serve HTTPS`);
      expect(message).toContain('-c domainName=api.example.com -c certificateArn=arn:aws:acm:');
      expect(loadBare({ env: 'dev' }).domain).toBeUndefined();
    },
  );

  it('takes load-test source ranges for the WAF rate rule and rejects malformed ones', () => {
    expect(
      load({ env: 'staging', loadTestCidrs: '203.0.113.10/32, 198.51.100.0/24' }).loadTestCidrs,
    ).toEqual(['203.0.113.10/32', '198.51.100.0/24']);
    expect(failure(() => load({ env: 'staging', loadTestCidrs: '203.0.113.300/32' }))).toContain(
      'loadTestCidrs',
    );
  });
});

describe('validateConfig rules', () => {
  // validateConfig is exercised through loadConfig with an edited base; use spread copies.
  const prod = load({ env: 'prod' });
  const check = async (patch: object) => {
    const { validateConfig } = await import('../lib/config.js');
    return failure(() => validateConfig({ ...prod, ...patch } as typeof prod));
  };

  it('stops databases on a schedule only where data is not protected', async () => {
    const dev = load({ env: 'dev' });
    expect(await check({ officeHours: dev.officeHours })).toContain(
      'officeHours stops the database and every task',
    );
    expect(
      await check({ protectData: false, officeHours: { ...dev.officeHours, stopHour: 5 } }),
    ).toContain('0 ≤ start < stop ≤ 23');
  });

  it('never lets the worker scale to zero (it publishes the backlog metric)', async () => {
    expect(await check({ worker: { ...prod.worker, minTasks: 0 } })).toContain(
      'waiting jobs would be stranded',
    );
  });

  it('keeps prod highly available', async () => {
    expect(await check({ database: { ...prod.database, multiAz: false } })).toContain(
      'prod requires database.multiAz',
    );
    expect(await check({ redis: { ...prod.redis, replicas: 0 } })).toContain('redis.replicas ≥ 1');
    expect(await check({ network: { ...prod.network, natCount: 1 } })).toContain('one NAT per AZ');
    expect(await check({ protectData: false })).toContain('protectData');
  });

  it('refuses a shared (noeviction) Redis outside dev', async () => {
    expect(await check({ redis: { ...prod.redis, sharedCacheAndQueue: true } })).toContain(
      'only allowed in dev',
    );
  });

  it('rejects impossible Fargate sizes', async () => {
    expect(await check({ service: { ...prod.service, cpu: 300 } })).toContain('not a Fargate size');
    expect(await check({ service: { ...prod.service, memoryMiB: 512 } })).toContain(
      'memoryMiB 512 is invalid for cpu 512',
    );
  });

  it('keeps WAF and Container Insights on in prod', async () => {
    expect(await check({ wafEnabled: false })).toContain('prod requires wafEnabled');
    expect(await check({ containerInsights: false })).toContain('prod requires containerInsights');
  });

  it('validates the API rate limits and CORS origins', async () => {
    expect(await check({ rateLimit: { authPerMinute: 0 } })).toContain('rateLimit.authPerMinute');
    expect(await check({ corsOrigins: 'https://a.example, https://b.example' })).toContain(
      'corsOrigins',
    );
  });

  it('rejects more than five read replicas', async () => {
    expect(await check({ database: { ...prod.database, readReplicas: 6 } })).toContain(
      'readReplicas',
    );
  });
});
