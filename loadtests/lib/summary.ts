/**
 * The end-of-test summary: k6 hands `handleSummary` its aggregated results, and this turns them
 * into a JSON file, a text file and the console report. Pure; the data shape is k6's summary
 * object (`metrics`, `root_group`, `state`), the one every k6 version since 0.30 passes.
 */
import { ENDPOINT_GROUPS, JOURNEY_NAMES, METRICS } from './catalog.ts';
import { PROFILES, SUMMARY_ONLY_THRESHOLD } from './profiles.ts';
import type { Settings } from './settings.ts';

export interface SummaryMetric {
  type: 'counter' | 'gauge' | 'rate' | 'trend';
  contains: 'default' | 'time' | 'data';
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

export interface SummaryCheck {
  name: string;
  path: string;
  passes: number;
  fails: number;
}

export interface SummaryGroup {
  name: string;
  path: string;
  groups: SummaryGroup[];
  checks: SummaryCheck[];
}

export interface SummaryData {
  metrics: Record<string, SummaryMetric>;
  root_group?: SummaryGroup;
  state?: { testRunDurationMs?: number };
  /** What setup() returned: holds the users' tokens, so it is never written out. */
  setup_data?: unknown;
  [key: string]: unknown;
}

type RunInfo = Pick<Settings, 'scenario' | 'profile' | 'baseUrl' | 'resultsDir'>;

/** What `handleSummary` returns: file path (or `stdout`) → content. */
export function summaryOutputs(data: SummaryData, run: RunInfo): Record<string, string> {
  const text = formatSummary(data, run);
  const base = `${run.resultsDir}/${run.scenario}-${run.profile}`;
  const { setup_data: _tokens, ...results } = data;
  const json = {
    run: { scenario: run.scenario, profile: run.profile, baseUrl: run.baseUrl },
    passed: crossedThresholds(data).length === 0,
    ...results,
  };
  return {
    [`${base}.json`]: `${JSON.stringify(json, null, 2)}\n`,
    [`${base}.txt`]: text,
    stdout: text,
  };
}

/** Every threshold that failed, as `metric: expression`. */
export function crossedThresholds(data: SummaryData): string[] {
  const crossed: string[] = [];
  for (const [name, metric] of Object.entries(data.metrics)) {
    for (const [source, result] of Object.entries(metric.thresholds ?? {})) {
      if (!result.ok) crossed.push(`${name}: ${source}`);
    }
  }
  return crossed.sort();
}

function formatSummary(data: SummaryData, run: RunInfo): string {
  const m = data.metrics;
  const seconds = (data.state?.testRunDurationMs ?? 0) / 1000;
  const lines: string[] = [
    `Plinth load test: scenario ${run.scenario}, profile ${run.profile}, target ${run.baseUrl}`,
    `  ${PROFILES[run.profile].description}`,
    `  ran ${seconds.toFixed(1)} s: ${count(m.http_reqs)} requests (${rate(m.http_reqs)}/s), ` +
      `${count(m.iterations)} journeys, ${count(m.dropped_iterations)} dropped`,
    '',
    'THRESHOLDS (SLOs)',
    ...thresholdLines(data),
    '',
    'LATENCY BY ENDPOINT GROUP (ms)',
    `  ${pad('group', 10)}${lpad('requests', 10)}${lpad('p50', 9)}${lpad('p95', 9)}${lpad('p99', 9)}${lpad('max', 9)}`,
  ];
  for (const group of ENDPOINT_GROUPS) {
    const trend = m[`http_req_duration{endpoint:${group}}`];
    if (!trend || !trend.values.count) continue;
    const v = trend.values;
    lines.push(
      `  ${pad(group, 10)}${lpad(String(v.count), 10)}` +
        ['med', 'p(95)', 'p(99)', 'max'].map((k) => lpad(fixed(v[k]), 9)).join(''),
    );
  }
  lines.push('', 'JOURNEYS COMPLETED');
  for (const journey of JOURNEY_NAMES) {
    const completed = m[`${METRICS.journeyCompleted}{journey:${journey}}`];
    if (!completed) continue;
    const { passes = 0, fails = 0 } = completed.values;
    lines.push(
      `  ${pad(journey, 10)}${lpad(percent(completed.values.rate), 8)}  (${passes} of ${passes + fails})`,
    );
  }
  const checks = m.checks?.values ?? {};
  const checkTotal = (checks.passes ?? 0) + (checks.fails ?? 0);
  lines.push('', `CHECKS ${percent(checks.rate)} (${checks.passes ?? 0} of ${checkTotal} passed)`);
  for (const check of failedChecks(data.root_group)) {
    lines.push(`  ✗ ${check.label}: ${check.fails} of ${check.passes + check.fails} failed`);
  }
  const limited = count(m[METRICS.rateLimited]);
  lines.push(
    '',
    `RATE LIMITED ${limited} responses (429)` +
      (limited > 0
        ? ': the target throttled this client; see "Server settings" in loadtests/README.md'
        : ''),
  );
  const graphqlErrors = m[METRICS.graphqlErrors];
  if (graphqlErrors)
    lines.push(`GRAPHQL ERRORS ${percent(graphqlErrors.values.rate)} of responses`);
  const crossed = crossedThresholds(data);
  lines.push(
    '',
    crossed.length === 0
      ? 'RESULT: passed, every threshold held'
      : `RESULT: failed, ${crossed.length} threshold(s) crossed: ${crossed.join('; ')}`,
    '',
  );
  return lines.join('\n');
}

function thresholdLines(data: SummaryData): string[] {
  const lines: string[] = [];
  for (const name of Object.keys(data.metrics).sort()) {
    const metric = data.metrics[name]!;
    for (const [source, result] of Object.entries(metric.thresholds ?? {})) {
      if (source === SUMMARY_ONLY_THRESHOLD) continue;
      const aggregate = /^\s*([a-z]+(?:\(\d+(?:\.\d+)?\))?)/.exec(source)?.[1] ?? '';
      const value = metric.values[aggregate];
      const shown =
        value === undefined
          ? ''
          : metric.type === 'rate'
            ? percent(value)
            : metric.contains === 'time'
              ? `${fixed(value)} ms`
              : String(value);
      lines.push(
        `  ${result.ok ? '✓' : '✗'} ${pad(name, 42)}${pad(source, 14)}${aggregate}=${shown}`,
      );
    }
  }
  return lines;
}

function failedChecks(
  group: SummaryGroup | undefined,
): { label: string; passes: number; fails: number }[] {
  if (!group) return [];
  const here = group.checks
    .filter((c) => c.fails > 0)
    .map((c) => ({
      label: [...group.path.split('::').filter(Boolean), c.name].join(' › '),
      passes: c.passes,
      fails: c.fails,
    }));
  return [...here, ...group.groups.flatMap(failedChecks)];
}

const count = (metric: SummaryMetric | undefined) => metric?.values.count ?? 0;
const rate = (metric: SummaryMetric | undefined) => (metric?.values.rate ?? 0).toFixed(1);
const percent = (value: number | undefined) => `${((value ?? 0) * 100).toFixed(2)}%`;
const fixed = (value: number | undefined) => (value ?? 0).toFixed(1);
const pad = (s: string, width: number) => (s.length >= width ? `${s} ` : s.padEnd(width));
const lpad = (s: string, width: number) => s.padStart(width);
