import { describe, expect, it } from '@jest/globals';
import type { Options, RampingArrivalRateScenario, ConstantArrivalRateScenario } from 'k6/options';
import { JOURNEYS, JOURNEY_NAMES, LATENCY_SLOS, METRICS } from '../lib/catalog.ts';
import { activeJourneys, type Weights } from '../lib/mix.ts';
import {
  buildOptions,
  durationSeconds,
  endpointGroups,
  PROFILE_NAMES,
  PROFILES,
  type ProfileName,
} from '../lib/profiles.ts';
import { loadSettings, type Env } from '../lib/settings.ts';
import { BUILTIN, parseThresholds, type MetricDef } from './k6-shim/runtime.ts';

const MIXED: Weights = { browse: 50, reader: 25, writer: 10, graphql: 15 };
const BASE = { BASE_URL: 'http://127.0.0.1:3000' };
/** The custom metrics lib/api.ts creates, with their k6 types. */
const METRIC_DEFS = new Map<string, MetricDef>([
  ...Object.entries(BUILTIN),
  [METRICS.rateLimited, { type: 'counter', contains: 'default' }],
  [METRICS.graphqlErrors, { type: 'rate', contains: 'default' }],
  [METRICS.journeyCompleted, { type: 'rate', contains: 'default' }],
]);

const optionsFor = (profile: ProfileName, env: Env = {}, weights = MIXED) =>
  buildOptions(loadSettings({ ...BASE, PROFILE: profile, ...env }, 'mixed', weights));

type ArrivalScenario = ConstantArrivalRateScenario | RampingArrivalRateScenario;
const scenariosOf = (options: Options) =>
  Object.entries(options.scenarios ?? {}) as [string, ArrivalScenario][];

/** Per-minute rate at the busiest moment of a scenario. */
const peakPerMinute = (s: ArrivalScenario) =>
  s.executor === 'constant-arrival-rate'
    ? s.rate
    : Math.max(s.startRate ?? 0, ...s.stages.map((stage) => stage.target));

const scenarioSeconds = (s: ArrivalScenario) =>
  s.executor === 'constant-arrival-rate'
    ? durationSeconds(s.duration)
    : s.stages.reduce((sum, stage) => sum + durationSeconds(stage.duration), 0);

describe.each(PROFILE_NAMES)('profile %s', (name) => {
  const profile = PROFILES[name];
  const options = optionsFor(name);
  const scenarios = scenariosOf(options);

  it('runs one arrival-rate scenario per journey of the mix, each executing that journey', () => {
    expect(scenarios.map(([key]) => key)).toEqual([...JOURNEY_NAMES]);
    for (const [key, s] of scenarios) {
      expect(s.executor).toBe(profile.executor);
      expect(s.exec).toBe(key);
      expect(s.tags).toEqual({ journey: key });
      expect(s.timeUnit).toBe('1m');
    }
  });

  it('has whole, non-negative rates, positive durations and enough VUs to start', () => {
    for (const [, s] of scenarios) {
      expect(Number.isInteger(s.preAllocatedVUs) && s.preAllocatedVUs >= 1).toBe(true);
      expect(s.maxVUs).toBeGreaterThanOrEqual(s.preAllocatedVUs);
      if (s.executor === 'constant-arrival-rate') {
        expect(Number.isInteger(s.rate) && s.rate >= 1).toBe(true);
        expect(durationSeconds(s.duration)).toBeGreaterThan(0);
      } else {
        expect(Number.isInteger(s.startRate) && s.startRate! >= 0).toBe(true);
        expect(s.stages.length).toBeGreaterThan(0);
        for (const stage of s.stages) {
          expect(Number.isInteger(stage.target) && stage.target >= 0).toBe(true);
          expect(durationSeconds(stage.duration)).toBeGreaterThan(0);
        }
      }
    }
  });

  it("shares the profile's peak rate out by weight, and every journey lasts as long as the profile", () => {
    const total = scenarios.reduce((sum, [, s]) => sum + peakPerMinute(s), 0);
    // Each journey's rate is rounded to a whole number per minute.
    expect(Math.abs(total - profile.rate * 60)).toBeLessThanOrEqual(scenarios.length);
    for (const { name: journey, share } of activeJourneys(MIXED)) {
      const s = options.scenarios![journey] as ArrivalScenario;
      expect(Math.abs(peakPerMinute(s) - share * profile.rate * 60)).toBeLessThanOrEqual(1);
    }
    const seconds = profile.phases.reduce((sum, p) => sum + durationSeconds(p.duration), 0);
    for (const [, s] of scenarios) expect(scenarioSeconds(s)).toBe(seconds);
  });

  it('has thresholds k6 accepts, an SLO per endpoint group the journeys use, and error SLOs that abort', () => {
    const thresholds = options.thresholds!;
    expect(() => parseThresholds(thresholds, METRIC_DEFS)).not.toThrow();
    for (const group of endpointGroups([...JOURNEY_NAMES])) {
      const [p95, p99] = thresholds[`http_req_duration{endpoint:${group}}`]!;
      expect(p95).toBe(`p(95)<${LATENCY_SLOS[group].p95Ms}`);
      expect(p99).toEqual({
        threshold: `p(99)<${LATENCY_SLOS[group].p99Ms}`,
        abortOnFail: name === 'breakpoint',
        delayAbortEval: profile.abortDelay,
      });
    }
    for (const metric of [
      'http_req_failed',
      'checks',
      METRICS.journeyCompleted,
      METRICS.rateLimited,
      METRICS.graphqlErrors,
    ]) {
      expect(thresholds[metric]).toEqual([
        expect.objectContaining({ abortOnFail: true, delayAbortEval: profile.abortDelay }),
      ]);
    }
  });

  if (name !== 'breakpoint') {
    it("stays under the API's default per-IP limit of 20,000 requests a minute", () => {
      const perJourney = activeJourneys(MIXED).reduce(
        (sum, j) => sum + j.share * JOURNEYS[j.name].requests,
        0,
      );
      expect(profile.rate * perJourney * 60).toBeLessThan(20_000);
    });
  }
});

describe('overrides', () => {
  it('RATE replaces the peak rate and DURATION the steady phase, keeping ramps', () => {
    const options = optionsFor('average', { RATE: '4', DURATION: '90s' });
    const browse = options.scenarios!.browse as RampingArrivalRateScenario;
    expect(browse.stages).toEqual([
      { duration: '2m', target: 120 }, // 4/s × 50% × 60
      { duration: '90s', target: 120 },
      { duration: '1m', target: 0 },
    ]);
    const smoke = optionsFor('smoke', { DURATION: '5s' }).scenarios!
      .writer as ConstantArrivalRateScenario;
    expect(smoke).toMatchObject({ rate: 12, duration: '5s' }); // 2/s × 10% × 60
  });

  it('a journey with a tiny share still runs at least once a minute', () => {
    const options = optionsFor('smoke', { WEIGHTS: 'browse:1000,reader:0,graphql:0,writer:1' });
    expect((options.scenarios!.writer as ConstantArrivalRateScenario).rate).toBe(1);
  });

  it('GRAPHQL=0 drops the GraphQL journey, its latency SLO and its error threshold', () => {
    const options = optionsFor('smoke', { GRAPHQL: '0' });
    expect(Object.keys(options.scenarios!)).toEqual(['browse', 'reader', 'writer']);
    expect(options.thresholds!['http_req_duration{endpoint:graphql}']).toBeUndefined();
    expect(options.thresholds![METRICS.graphqlErrors]).toBeUndefined();
  });

  it('SLO_SCALE stretches every latency SLO', () => {
    const [p95] = optionsFor('smoke', { SLO_SCALE: '2.5' }).thresholds![
      'http_req_duration{endpoint:write}'
    ]!;
    expect(p95).toBe(`p(95)<${LATENCY_SLOS.write.p95Ms * 2.5}`);
  });

  it('a mix with nothing left to run is an error that says why', () => {
    const graphqlOnly = { browse: 0, reader: 0, writer: 0, graphql: 1 };
    expect(() => optionsFor('smoke', { GRAPHQL: '0' }, graphqlOnly)).toThrow(
      'no journey left to run in mixed: every weight is 0 once GRAPHQL=0 removed the GraphQL journey',
    );
  });
});

describe('settings', () => {
  const load = (env: Env) => loadSettings(env, 'mixed', MIXED);

  it('defaults to the smoke profile and takes BASE_URL without a trailing slash', () => {
    const settings = load({ BASE_URL: 'https://api.example.com/' });
    expect(settings).toMatchObject({
      baseUrl: 'https://api.example.com',
      profile: 'smoke',
      graphql: true,
      thinkTimeS: 1,
      articlesPerUser: 2,
      sloScale: 1,
      resultsDir: 'loadtests/results',
      weights: MIXED,
    });
  });

  it.each<[Env, string]>([
    [{}, "BASE_URL must be the API's origin"],
    [{ BASE_URL: 'localhost:3000' }, "BASE_URL must be the API's origin"],
    [
      { ...BASE, PROFILE: 'load' },
      'PROFILE "load" is unknown; use one of smoke, average, stress, spike, soak, breakpoint',
    ],
    [{ ...BASE, GRAPHQL: 'maybe' }, 'GRAPHQL must be 1 or 0'],
    [{ ...BASE, RATE: '0' }, 'RATE must be a number > 0'],
    [{ ...BASE, USERS: '2.5' }, 'USERS must be a whole number > 0'],
    [{ ...BASE, DURATION: '10 minutes' }, 'DURATION "10 minutes" is not a k6 duration'],
    [{ ...BASE, WEIGHTS: 'browse:lots' }, 'WEIGHTS: "browse:lots" is not <journey>:<weight>'],
    [{ ...BASE, WEIGHTS: 'shopping:1' }, 'WEIGHTS: unknown journey "shopping"'],
  ])('refuses %j with a message naming the variable', (env, message) => {
    expect(() => load(env)).toThrow(message);
  });

  it('THINK_TIME=0 turns pauses off', () => {
    expect(load({ ...BASE, THINK_TIME: '0' }).thinkTimeS).toBe(0);
  });
});

describe('durationSeconds', () => {
  it.each([
    ['500ms', 0.5],
    ['30s', 30],
    ['1h30m', 5400],
    ['2m10s', 130],
  ])('%s is %d s', (d, s) => expect(durationSeconds(d)).toBe(s));

  it('rejects what k6 would', () => {
    expect(() => durationSeconds('10')).toThrow('"10" is not a k6 duration');
  });
});
