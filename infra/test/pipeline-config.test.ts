import { describe, expect, it } from '@jest/globals';
import { exampleContext } from '../lib/cdk-context.js';
import { ConfigError } from '../lib/config.js';
import {
  k6DurationMinutes,
  loadGitHubDeployConfig,
  loadPipelineConfig,
} from '../lib/pipeline-config.js';
import type { PipelineSettings } from '../lib/pipeline-config.js';

const EXAMPLE = exampleContext('pipeline');
const load = (context: Record<string, string> = {}, settings?: PipelineSettings) =>
  loadPipelineConfig({
    context: (key) => ({ ...EXAMPLE, ...context })[key],
    ...(settings ? { settings } : {}),
  });
const problems = (fn: () => unknown): readonly string[] => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
};

describe('loadPipelineConfig', () => {
  it('deploys staging and prod into the pipeline account and region with their HTTPS settings', () => {
    const config = load();
    expect(config).toMatchObject({
      account: '222222222222',
      region: 'us-east-1',
      repository: 'example/plinth',
      branch: 'main',
      snapshotRetain: 5,
      stressDuration: '5m',
    });
    for (const stage of ['staging', 'prod'] as const) {
      expect(config.stages[stage]).toMatchObject({
        envName: stage,
        account: config.account,
        region: config.region,
        domain: { domainName: EXAMPLE[`${stage}.domainName`] },
      });
    }
    // Each stage keeps its own environment's sizes.
    expect(config.stages.prod.database.multiAz).toBe(true);
    expect(config.stages.staging.wafExemptNat).toBe(true);
  });

  it('takes committed settings, and per-stage context only for that stage', () => {
    const config = loadPipelineConfig({
      context: (key) => ({ 'prod.corsOrigins': 'https://app.example.com' })[key],
      settings: {
        account: '123456789012',
        connectionArn: 'arn:aws:codestar-connections:us-east-1:123456789012:connection/ab-12',
        repository: 'acme/plinth',
        branch: 'release',
        snapshotRetain: 3,
        stages: {
          staging: {
            domainName: 'api.staging.acme.dev',
            certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/aa-1',
          },
          prod: {
            domainName: 'api.acme.dev',
            certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/bb-2',
            alarmEmail: 'oncall@acme.dev',
          },
        },
      },
    });
    expect(config).toMatchObject({ account: '123456789012', branch: 'release', snapshotRetain: 3 });
    expect(config.stages.prod).toMatchObject({
      account: '123456789012',
      alarmEmail: 'oncall@acme.dev',
      corsOrigins: 'https://app.example.com',
    });
    expect(config.stages.staging.corsOrigins).toBeUndefined();
  });

  it('names every missing setting with the key that fixes it', () => {
    const found = problems(() =>
      loadPipelineConfig({ context: () => undefined, settings: {} }),
    ).join('\n');
    expect(found).toContain('connectionArn is required');
    expect(found).toContain('repository must be the GitHub "owner/name"');
    for (const key of ['staging.domainName', 'staging.certificateArn', 'prod.domainName']) {
      expect(found).toContain(`-c ${key}=`);
    }
    expect(found).not.toContain('must serve HTTPS');
  });

  it('refuses malformed values', () => {
    expect(problems(() => load({ connectionArn: 'arn:aws:s3:::bucket' })).join()).toContain(
      'is not a connection ARN',
    );
    expect(problems(() => load({ stressDuration: 'five minutes' })).join()).toContain(
      'stressDuration',
    );
    expect(problems(() => load({ snapshotRetain: '0' })).join()).toContain('snapshotRetain');
    expect(problems(() => load({ branch: 'a..b' })).join()).toContain('branch');
    expect(problems(() => load({ 'prod.alarmEmail': 'nobody' })).join()).toContain(
      'stages.prod: alarmEmail "nobody" is not an e-mail address',
    );
  });

  it('refuses a stage in another account: CodeBuild joins only VPCs of its own account', () => {
    expect(problems(() => load({ 'prod.account': '333333333333' })).join()).toMatch(
      /must share the pipeline's account and region/,
    );
  });
});

describe('k6DurationMinutes', () => {
  it('reads k6 durations, rounding seconds up', () => {
    expect([k6DurationMinutes('5m'), k6DurationMinutes('90s'), k6DurationMinutes('1h30m')]).toEqual(
      [5, 2, 90],
    );
    expect([k6DurationMinutes(''), k6DurationMinutes('5 min'), k6DurationMinutes('m')]).toEqual([
      NaN,
      NaN,
      NaN,
    ]);
  });
});

describe('loadGitHubDeployConfig', () => {
  const github = (context: Record<string, string>, env = {}) =>
    loadGitHubDeployConfig({ context: (key) => context[key], env, settings: {} });

  it('takes the account and region the CDK CLI reports when none is given', () => {
    expect(
      github(
        { repository: 'acme/plinth' },
        { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' },
      ),
    ).toMatchObject({
      account: '123456789012',
      region: 'eu-west-1',
      branch: 'main',
      envNames: ['staging', 'prod'],
      bootstrapQualifier: 'hnb659fds',
    });
  });

  it('refuses unknown environments, a foreign provider and a missing repository', () => {
    const found = problems(() =>
      github({
        envs: 'qa',
        oidcProviderArn: 'arn:aws:iam::123456789012:oidc-provider/example.com',
      }),
    ).join('\n');
    expect(found).toContain('envs must list environments');
    expect(found).toContain("is not the GitHub provider's ARN");
    expect(found).toContain('repository must be the GitHub "owner/name"');
  });
});
