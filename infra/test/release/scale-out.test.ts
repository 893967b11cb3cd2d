import { setTimeout as sleep } from 'node:timers/promises';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { UsageError } from '../../release/cli.js';
import { checkScaleOut, parseScaleOutArgs, type ScaleOutOptions } from '../../release/scale-out.js';

const ecs = mockClient(ECSClient);
const client = new ECSClient({ region: 'eu-west-1' });
const lines: string[] = [];
const options: Omit<ScaleOutOptions, 'dryRun'> = {
  cluster: 'plinth-staging',
  service: 'plinth-staging-api',
  url: 'https://staging.example.com',
  profile: 'stress',
  scenario: 'mixed',
  minIncrease: 1,
  settleMinutes: 0.002,
  pollSeconds: 0.01,
};
const counts = (desired: number, running = desired) => ({
  services: [{ serviceName: options.service, desiredCount: desired, runningCount: running }],
});
/** k6 stand-in: exits with `status` after `ms`. */
const load = (status: number, ms: number) => () => sleep(ms).then(() => status);
const check = (l: () => Promise<number>, o: Partial<typeof options> = {}) =>
  checkScaleOut(client, { ...options, ...o }, l, (line) => lines.push(line));

beforeEach(() => {
  ecs.reset();
  lines.length = 0;
});

describe('release step: scale-out', () => {
  it('passes when the desired count rises under load and k6 thresholds hold', async () => {
    ecs
      .on(DescribeServicesCommand, { cluster: options.cluster, services: [options.service] })
      .resolvesOnce(counts(2))
      .resolvesOnce(counts(2))
      .resolvesOnce(counts(3, 2))
      .resolves(counts(4, 3));

    const result = await check(load(0, 100));

    expect(result).toMatchObject({ status: 0, initial: 2, peak: 4 });
    expect(result.samples.some((s) => s.underLoad && s.desired > 2)).toBe(true);
    expect(lines.at(-1)).toContain('passed: desired count rose from 2 to 4');
  });

  it('waits after the load for a scale-out that comes late (alarm periods), within the settle time', async () => {
    ecs
      .on(DescribeServicesCommand)
      .resolvesOnce(counts(2))
      .resolvesOnce(counts(2))
      .resolves(counts(3));

    const result = await check(load(0, 0), { settleMinutes: 0.05 });

    expect(result).toMatchObject({ status: 0, peak: 3 });
    expect(result.samples.at(-1)).toMatchObject({ desired: 3, underLoad: false });
  });

  it('fails when the service never scales out, printing what it saw', async () => {
    ecs.on(DescribeServicesCommand).resolves(counts(2));

    const result = await check(load(0, 30));

    expect(result).toMatchObject({ status: 1, initial: 2, peak: 2 });
    expect(result.samples.length).toBeGreaterThan(1);
    expect(lines.at(-1)).toContain('FAILED: desired count stayed at 2 (needed 3)');
  });

  it("fails with k6's status when a threshold (the error-rate SLO) failed, even though it scaled", async () => {
    ecs.on(DescribeServicesCommand).resolvesOnce(counts(2)).resolves(counts(5));

    const result = await check(load(99, 30));

    expect(result).toMatchObject({ status: 99, peak: 5 });
    expect(lines.at(-1)).toContain('k6 exited 99');
  });

  it('when the service does not exist, then it says so before any load runs', async () => {
    ecs.on(DescribeServicesCommand).resolves({ services: [], failures: [{ reason: 'MISSING' }] });
    let loaded = false;

    await expect(
      check(async () => {
        loaded = true;
        return 0;
      }),
    ).rejects.toThrow('ECS service plinth-staging-api in cluster plinth-staging: MISSING');
    expect(loaded).toBe(false);
  });
});

describe('scale-out command line', () => {
  const base = ['--cluster', 'c', '--service', 's', '--url', 'https://x.example/'];

  it('has defaults for everything but the cluster, service and URL', () => {
    expect(parseScaleOutArgs(base)).toEqual({
      cluster: 'c',
      service: 's',
      url: 'https://x.example',
      profile: 'stress',
      scenario: 'mixed',
      minIncrease: 1,
      settleMinutes: 5,
      pollSeconds: 15,
      dryRun: false,
    });
  });

  it.each([
    [['--service', 's', '--url', 'https://x'], '--cluster is required'],
    [['--cluster', 'c', '--service', 's', '--url', 'x.example'], '--url must be'],
    [[...base, '--min-increase', '0'], '--min-increase must be a whole number ≥ 1'],
    [[...base, '--poll-seconds', '0.5'], '--poll-seconds must be a whole number ≥ 1'],
  ])('rejects %j with a usage error that says the fix', (argv, message) => {
    expect(() => parseScaleOutArgs(argv)).toThrow(UsageError);
    expect(() => parseScaleOutArgs(argv)).toThrow(message);
  });
});
