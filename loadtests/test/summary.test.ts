import { describe, expect, it } from '@jest/globals';
import { crossedThresholds, summaryOutputs, type SummaryData } from '../lib/summary.ts';

const run = {
  scenario: 'mixed',
  profile: 'smoke' as const,
  baseUrl: 'https://api.example.com',
  resultsDir: 'out/k6',
};

/** A summary object as k6 hands it to handleSummary (trimmed to what the formatter reads). */
function summary(overrides: Partial<SummaryData['metrics']> = {}): SummaryData {
  const trend = (p95: number, count: number) => ({
    type: 'trend' as const,
    contains: 'time' as const,
    values: { avg: 10, min: 1, med: 8, max: 120, 'p(90)': 20, 'p(95)': p95, 'p(99)': 90, count },
  });
  return {
    state: { testRunDurationMs: 31_500 },
    setup_data: { run: 'r1', users: [{ username: 'lt-r1-0', token: 'secret.jwt.token' }] },
    root_group: {
      name: '',
      path: '',
      groups: [
        {
          name: 'browse',
          path: '::browse',
          groups: [],
          checks: [
            {
              name: 'GET /api/tags 200',
              path: '::browse::GET /api/tags 200',
              passes: 30,
              fails: 0,
            },
            { name: 'GET /api/articles/{slug} 200', path: '::browse::x', passes: 28, fails: 2 },
          ],
        },
      ],
      checks: [],
    },
    metrics: {
      http_reqs: { type: 'counter', contains: 'default', values: { count: 412, rate: 13.08 } },
      iterations: { type: 'counter', contains: 'default', values: { count: 60, rate: 1.9 } },
      checks: {
        type: 'rate',
        contains: 'default',
        values: { rate: 0.99, passes: 198, fails: 2 },
        thresholds: { 'rate>0.99': { ok: false } },
      },
      http_req_failed: {
        type: 'rate',
        contains: 'default',
        values: { rate: 0, passes: 0, fails: 412 },
        thresholds: { 'rate<0.01': { ok: true } },
      },
      'http_req_duration{endpoint:list}': {
        ...trend(41.25, 200),
        thresholds: { 'p(95)<300': { ok: true }, 'p(99)<800': { ok: true } },
      },
      'http_req_duration{endpoint:write}': trend(0, 0),
      'journey_completed{journey:browse}': {
        type: 'rate',
        contains: 'default',
        values: { rate: 28 / 30, passes: 28, fails: 2 },
        thresholds: { 'rate>=0': { ok: true } },
      },
      rate_limited: {
        type: 'counter',
        contains: 'default',
        values: { count: 0, rate: 0 },
        thresholds: { 'count<1': { ok: true } },
      },
      ...overrides,
    },
  };
}

describe('summaryOutputs', () => {
  it('writes <scenario>-<profile>.json and .txt into the results directory, and the text to stdout', () => {
    const outputs = summaryOutputs(summary(), run);
    expect(Object.keys(outputs).sort()).toEqual([
      'out/k6/mixed-smoke.json',
      'out/k6/mixed-smoke.txt',
      'stdout',
    ]);
    expect(outputs.stdout).toBe(outputs['out/k6/mixed-smoke.txt']);
  });

  it("keeps the setup data (the users' tokens) out of the JSON, and says whether the run passed", () => {
    const json = summaryOutputs(summary(), run)['out/k6/mixed-smoke.json']!;
    expect(json).not.toContain('secret.jwt.token');
    const parsed = JSON.parse(json);
    expect(parsed.run).toEqual({
      scenario: 'mixed',
      profile: 'smoke',
      baseUrl: 'https://api.example.com',
    });
    expect(parsed.passed).toBe(false);
    expect(parsed.metrics['http_req_duration{endpoint:list}'].values['p(95)']).toBe(41.25);
  });
});

describe('the text summary', () => {
  const text = summaryOutputs(summary(), run).stdout!;

  it('heads with what ran, against what, for how long', () => {
    expect(text).toContain(
      'Plinth load test: scenario mixed, profile smoke, target https://api.example.com',
    );
    expect(text).toContain('ran 31.5 s: 412 requests (13.1/s), 60 journeys, 0 dropped');
  });

  it('lists each threshold with its result and measured value, leaving out summary-only ones', () => {
    expect(text).toMatch(/✗ checks\s+rate>0\.99\s+rate=99\.00%/);
    expect(text).toMatch(/✓ http_req_duration\{endpoint:list\}\s+p\(95\)<300\s+p\(95\)=41\.3 ms/);
    expect(text).toMatch(/✓ rate_limited\s+count<1\s+count=0/);
    expect(text).not.toContain('rate>=0');
  });

  it('tabulates latency for endpoint groups that had requests', () => {
    expect(text).toMatch(/list\s+200\s+8\.0\s+41\.3\s+90\.0\s+120\.0/);
    expect(text).not.toMatch(/^\s+write\s/m);
  });

  it('names each failing check with its journey, and journeys that did not complete', () => {
    expect(text).toContain('✗ browse › GET /api/articles/{slug} 200: 2 of 30 failed');
    expect(text).not.toContain('GET /api/tags 200:');
    expect(text).toMatch(/browse\s+93\.33%\s+\(28 of 30\)/);
  });

  it('ends with the verdict and the crossed thresholds', () => {
    expect(text).toContain('RESULT: failed, 1 threshold(s) crossed: checks: rate>0.99');
    const passing = summary({
      checks: {
        type: 'rate',
        contains: 'default',
        values: { rate: 1, passes: 200, fails: 0 },
        thresholds: { 'rate>0.99': { ok: true } },
      },
    });
    expect(crossedThresholds(passing)).toEqual([]);
    expect(summaryOutputs(passing, run).stdout).toContain('RESULT: passed, every threshold held');
  });

  it('points at the server settings when the target rate-limited the run', () => {
    const limited = summary({
      rate_limited: {
        type: 'counter',
        contains: 'default',
        values: { count: 7, rate: 0.2 },
        thresholds: { 'count<1': { ok: false } },
      },
    });
    expect(summaryOutputs(limited, run).stdout).toContain(
      'RATE LIMITED 7 responses (429): the target throttled this client; see "Server settings" in loadtests/README.md',
    );
  });
});
