/**
 * Release step `scale-out` (staging, after the average-load gate): runs a k6 profile (default
 * `stress`) against the stage while watching the API's ECS service, and passes only when k6's
 * thresholds held (the error-rate SLO) AND the service's desired count rose by at least
 * `--min-increase` during the load or within `--settle-minutes` after it (target tracking needs
 * a few minutes of alarm data before it scales).
 *
 *   tsx infra/release/scale-out.ts --cluster C --service S --url https://staging.example.com
 *     [--profile stress] [--scenario mixed] [--min-increase 1] [--settle-minutes 5]
 *     [--poll-seconds 15] [--report-dir DIR] [--region R] [--dry-run]
 *
 * Prints every desired/running count it saw. Exit: k6's status when a threshold failed, 1 when
 * the service did not scale out, 0 otherwise. `--dry-run` reads the service and prints the plan.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { runProgram, UsageError } from './cli.js';
import { bundlePath, k6Args, runK6, type K6RunOptions } from './k6.js';

export interface ScaleOutOptions {
  /** ECS cluster name or ARN. */
  cluster: string;
  /** The API's ECS service name or ARN. */
  service: string;
  /** Origin of the stage's API. */
  url: string;
  /** k6 profile. @default 'stress' */
  profile: string;
  /** k6 scenario (`loadtests/dist/<scenario>.js`). @default 'mixed' */
  scenario: string;
  /** How many tasks the desired count must rise by. @default 1 */
  minIncrease: number;
  /** How long to keep watching after k6 ends. @default 5 */
  settleMinutes: number;
  /** Seconds between reads of the service. @default 15 */
  pollSeconds: number;
  /** Where k6 writes its summary. @default no summary file */
  reportDir?: string;
  /** Read the service and print the plan only. @default false */
  dryRun: boolean;
}

export interface Sample {
  /** Seconds since the load started. */
  atSeconds: number;
  desired: number;
  running: number;
  /** True while k6 was still running. */
  underLoad: boolean;
}

export interface ScaleOutResult {
  status: number;
  initial: number;
  peak: number;
  samples: Sample[];
}

async function readCounts(ecs: ECSClient, cluster: string, service: string) {
  const { services, failures } = await ecs.send(
    new DescribeServicesCommand({ cluster, services: [service] }),
  );
  const found = services?.[0];
  if (!found || found.desiredCount === undefined) {
    const why = failures?.[0]?.reason ?? 'not returned';
    throw new Error(`ECS service ${service} in cluster ${cluster}: ${why}`);
  }
  return { desired: found.desiredCount, running: found.runningCount ?? 0 };
}

/**
 * Runs `load` while sampling the service, then waits up to `settleMinutes` for a scale-out that
 * has not shown yet. `load` resolves with k6's exit status.
 */
export async function checkScaleOut(
  ecs: ECSClient,
  options: Omit<ScaleOutOptions, 'dryRun'>,
  load: () => Promise<number>,
  log: (line: string) => void = console.log,
): Promise<ScaleOutResult> {
  const { cluster, service, minIncrease } = options;
  const initial = (await readCounts(ecs, cluster, service)).desired;
  const target = initial + minIncrease;
  const started = Date.now();
  const samples: Sample[] = [];
  let loading = true;
  const sample = async () => {
    const counts = await readCounts(ecs, cluster, service);
    const s = {
      atSeconds: Math.round((Date.now() - started) / 1000),
      ...counts,
      underLoad: loading,
    };
    samples.push(s);
    log(
      `scale-out: t+${s.atSeconds}s desired ${s.desired}, running ${s.running}${loading ? ' (under load)' : ''}`,
    );
  };
  const peak = () => Math.max(initial, ...samples.map((s) => s.desired));

  log(`scale-out: ${service} starts at ${initial} desired; must reach ${target}`);
  const loadEnded = new AbortController();
  const finished = load().finally(() => {
    loading = false;
    loadEnded.abort();
  });
  while (loading) {
    // Cut short when k6 ends, so the settle phase starts at once.
    await sleep(options.pollSeconds * 1000, undefined, { signal: loadEnded.signal }).catch(
      () => undefined,
    );
    if (loading) await sample();
  }
  const status = await finished;
  const settleUntil = Date.now() + options.settleMinutes * 60_000;
  while (peak() < target && Date.now() < settleUntil) {
    await sleep(options.pollSeconds * 1000);
    await sample();
  }

  const result = { status, initial, peak: peak(), samples };
  if (status !== 0) {
    log(
      `scale-out: FAILED: k6 exited ${status} (a threshold of the ${options.profile} profile failed)`,
    );
  } else if (result.peak < target) {
    log(`scale-out: FAILED: desired count stayed at ${result.peak} (needed ${target})`);
    result.status = 1;
  } else {
    log(
      `scale-out: passed: desired count rose from ${initial} to ${result.peak}, k6 thresholds held`,
    );
  }
  return result;
}

/** Parses and checks the command line; throws UsageError with the fix on bad input. */
export function parseScaleOutArgs(argv: string[]): ScaleOutOptions & { region?: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      cluster: { type: 'string' },
      service: { type: 'string' },
      url: { type: 'string' },
      profile: { type: 'string', default: 'stress' },
      scenario: { type: 'string', default: 'mixed' },
      'min-increase': { type: 'string', default: '1' },
      'settle-minutes': { type: 'string', default: '5' },
      'poll-seconds': { type: 'string', default: '15' },
      'report-dir': { type: 'string' },
      region: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
    strict: true,
  });
  for (const required of ['cluster', 'service', 'url'] as const) {
    if (!values[required]) throw new UsageError(`--${required} is required`);
  }
  const url = URL.canParse(values.url!) ? new URL(values.url!) : undefined;
  if (!url || !/^https?:$/.test(url.protocol)) {
    throw new UsageError(`--url must be the stage's http(s) origin, got "${values.url}"`);
  }
  const whole = (name: string, value: string, min: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new UsageError(`--${name} must be a whole number ≥ ${min}`);
    return n;
  };
  return {
    cluster: values.cluster!,
    service: values.service!,
    url: url.origin,
    profile: values.profile,
    scenario: values.scenario,
    minIncrease: whole('min-increase', values['min-increase'], 1),
    settleMinutes: whole('settle-minutes', values['settle-minutes'], 0),
    pollSeconds: whole('poll-seconds', values['poll-seconds'], 1),
    dryRun: values['dry-run'],
    ...(values['report-dir'] ? { reportDir: values['report-dir'] } : {}),
    ...(values.region ? { region: values.region } : {}),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runProgram('scale-out', async () => {
    const { region, dryRun, ...options } = parseScaleOutArgs(process.argv.slice(2));
    const ecs = new ECSClient(region ? { region } : {});
    const k6: K6RunOptions = {
      script: bundlePath(options.scenario),
      baseUrl: options.url,
      profile: options.profile,
      ...(options.reportDir ? { reportDir: options.reportDir } : {}),
    };
    if (dryRun) {
      const { desired } = await readCounts(ecs, options.cluster, options.service);
      console.log(`scale-out: dry run: ${options.service} is at ${desired} desired`);
      console.log(
        `scale-out: dry run: would run k6 ${k6Args(k6).join(' ')} and need ${desired + options.minIncrease}`,
      );
      return 0;
    }
    return (await checkScaleOut(ecs, options, () => runK6(k6))).status;
  });
}
