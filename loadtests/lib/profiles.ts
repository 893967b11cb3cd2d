/**
 * Load profiles shared by every scenario, and the k6 options (scenarios + thresholds) a profile
 * and a journey mix produce. Pure: `import type` only, so jest can check the options of every
 * profile without k6.
 *
 * Load is open-model: arrival-rate executors start journeys at a set rate whether or not the
 * target keeps up, so a slow target shows up as latency and dropped iterations instead of quietly
 * receiving less traffic (as fixed VU loops would). Each journey is its own k6 scenario with its
 * share of the rate, so the mix holds exactly and each journey gets its own VU pool.
 */
import type { Options, Scenario, Threshold } from 'k6/options';
import {
  ERROR_SLOS,
  JOURNEYS,
  LATENCY_SLOS,
  METRICS,
  type EndpointGroup,
  type JourneyName,
} from './catalog.ts';
import { activeJourneys } from './mix.ts';
import type { Settings } from './settings.ts';

export const PROFILE_NAMES = ['smoke', 'average', 'stress', 'spike', 'soak', 'breakpoint'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export interface Phase {
  /** A k6 duration. */
  duration: string;
  /** Arrival rate reached at the end of the phase, as a fraction of the profile's peak. */
  target: number;
  /** `DURATION` replaces this phase's length (the part of the profile that is "the test"). */
  steady?: boolean;
}

export interface Profile {
  /** One line for the README and the summary. */
  description: string;
  /** Peak arrival rate, journeys per second across the whole mix (`RATE` replaces it). */
  rate: number;
  /** `constant-arrival-rate` runs the one (steady) phase at the peak; `ramping-arrival-rate` walks the phases. */
  executor: 'constant-arrival-rate' | 'ramping-arrival-rate';
  /** Arrival rate at the start of a ramp, as a fraction of the peak. @default 0 */
  startRate?: number;
  phases: Phase[];
  /** Users `setup()` registers (`USERS` replaces it); each registration is one auth request. */
  users: number;
  /** Whether a p99 latency breach aborts the run (the breakpoint test exists to find it). */
  abortOnLatency: boolean;
  /** How long thresholds may be crossed before an abort counts (early samples are few). */
  abortDelay: string;
}

/**
 * Peak rates are sized for one client IP under the API's default per-IP limit (20,000 requests a
 * minute, about 330/s; a journey makes about 7 requests): every profile but breakpoint stays
 * below it; breakpoint goes past it on purpose and needs `RATE_LIMIT_PER_MINUTE` raised on the
 * target (see the README).
 */
export const PROFILES: Record<ProfileName, Profile> = {
  smoke: {
    description: 'a trickle to prove the scripts and the target work: 2 journeys/s for 30 s',
    rate: 2,
    executor: 'constant-arrival-rate',
    phases: [{ duration: '30s', target: 1, steady: true }],
    users: 3,
    abortOnLatency: false,
    abortDelay: '10s',
  },
  average: {
    description: 'a normal day: ramp to 15 journeys/s over 2 min, hold 10 min, ramp down',
    rate: 15,
    executor: 'ramping-arrival-rate',
    phases: [
      { duration: '2m', target: 1 },
      { duration: '10m', target: 1, steady: true },
      { duration: '1m', target: 0 },
    ],
    users: 10,
    abortOnLatency: false,
    abortDelay: '1m',
  },
  stress: {
    description: 'above normal: through 15 to 40 journeys/s, hold 10 min, ramp down',
    rate: 40,
    executor: 'ramping-arrival-rate',
    phases: [
      { duration: '2m', target: 15 / 40 },
      { duration: '3m', target: 1 },
      { duration: '10m', target: 1, steady: true },
      { duration: '2m', target: 0 },
    ],
    users: 20,
    abortOnLatency: false,
    abortDelay: '1m',
  },
  spike: {
    description: 'a sudden surge: 2 journeys/s, jump to 45/s in 30 s, hold 1 min, drop, recover',
    rate: 45,
    executor: 'ramping-arrival-rate',
    startRate: 0.05,
    phases: [
      { duration: '1m', target: 0.05 },
      { duration: '30s', target: 1 },
      { duration: '1m', target: 1, steady: true },
      { duration: '30s', target: 0.05 },
      { duration: '2m', target: 0.05 },
    ],
    users: 20,
    abortOnLatency: false,
    abortDelay: '2m',
  },
  soak: {
    description: 'a long normal day: ramp to 15 journeys/s, hold 2 h (leaks, pool exhaustion)',
    rate: 15,
    executor: 'ramping-arrival-rate',
    phases: [
      { duration: '2m', target: 1 },
      { duration: '2h', target: 1, steady: true },
      { duration: '2m', target: 0 },
    ],
    users: 10,
    abortOnLatency: false,
    abortDelay: '5m',
  },
  breakpoint: {
    description:
      'find the limit: ramp from 0 to 150 journeys/s over 20 min, stop at the first SLO breach',
    rate: 150,
    executor: 'ramping-arrival-rate',
    phases: [{ duration: '20m', target: 1, steady: true }],
    users: 20,
    abortOnLatency: true,
    abortDelay: '1m',
  },
};

/** A threshold that always holds: it only makes k6 report a submetric in the summary data. */
export const SUMMARY_ONLY_THRESHOLD = 'rate>=0';

/** Seconds one request is assumed to take when sizing VU pools (the SLOs allow more). */
const ASSUMED_REQUEST_S = 0.25;

/** The complete k6 options for a run. Throws when the mix leaves nothing to run. */
export function buildOptions(settings: Settings): Options {
  const profile = PROFILES[settings.profile];
  const journeys = activeJourneys(settings.weights);
  if (journeys.length === 0) {
    throw new Error(
      `no journey left to run in ${settings.scenario}: every weight is 0` +
        (settings.graphql ? '' : ' once GRAPHQL=0 removed the GraphQL journey'),
    );
  }
  const scenarios: Record<string, Scenario> = {};
  for (const { name, share } of journeys) {
    scenarios[name] = journeyScenario(profile, settings, name, share);
  }
  return {
    scenarios,
    thresholds: buildThresholds(
      profile,
      settings,
      journeys.map((j) => j.name),
    ),
    // Registering users and writing their articles, plus one wait for the auth rate limit.
    setupTimeout: '3m',
    summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'],
    userAgent: 'plinth-loadtest (k6)',
  };
}

/**
 * One journey's scenario. Rates are per minute so that a small share of a small rate (a writer at
 * 10% of 2 journeys/s) stays a whole number; a share above 0 never rounds down to 0.
 */
function journeyScenario(
  profile: Profile,
  settings: Settings,
  journey: JourneyName,
  share: number,
): Scenario {
  const peakPerS = (settings.rate ?? profile.rate) * share;
  const perMinute = (fraction: number) =>
    fraction > 0 ? Math.max(1, Math.round(fraction * peakPerS * 60)) : 0;
  const iterationS = JOURNEYS[journey].requests * (settings.thinkTimeS + ASSUMED_REQUEST_S);
  const busyAtPeak = Math.ceil(peakPerS * iterationS);
  // Room for the target to get twice as slow before k6 runs out of VUs and drops iterations.
  const maxVUs = busyAtPeak * 2 + 2;
  const phases = profile.phases.map((phase) => ({
    duration: phase.steady && settings.duration ? settings.duration : phase.duration,
    target: perMinute(phase.target),
  }));
  const common = {
    exec: journey,
    timeUnit: '1m',
    maxVUs,
    tags: { journey },
  };
  if (profile.executor === 'constant-arrival-rate') {
    const [steady] = phases;
    return {
      executor: 'constant-arrival-rate',
      rate: steady!.target,
      duration: steady!.duration,
      preAllocatedVUs: busyAtPeak + 1,
      ...common,
    };
  }
  return {
    executor: 'ramping-arrival-rate',
    startRate: perMinute(profile.startRate ?? 0),
    stages: phases,
    // Ramps start small (k6 adds VUs up to maxVUs as the rate climbs): starting a breakpoint
    // run with every VU it might need would take a gigabyte before the first request.
    preAllocatedVUs: Math.ceil(busyAtPeak / 4) + 1,
    ...common,
  };
}

function buildThresholds(
  profile: Profile,
  settings: Settings,
  journeys: JourneyName[],
): Record<string, Threshold[]> {
  const abort = { abortOnFail: true, delayAbortEval: profile.abortDelay };
  const thresholds: Record<string, Threshold[]> = {
    http_req_failed: [{ threshold: `rate<${ERROR_SLOS.maxFailedRequestRate}`, ...abort }],
    checks: [{ threshold: `rate>${ERROR_SLOS.minCheckRate}`, ...abort }],
    [METRICS.journeyCompleted]: [
      { threshold: `rate>${ERROR_SLOS.minJourneyCompletedRate}`, ...abort },
    ],
    // Any 429 means the run measured the rate limiter, not the service: stop and say so.
    [METRICS.rateLimited]: [{ threshold: 'count<1', ...abort }],
  };
  if (journeys.includes('graphql')) {
    thresholds[METRICS.graphqlErrors] = [
      { threshold: `rate<${ERROR_SLOS.maxGraphqlErrorRate}`, ...abort },
    ];
  }
  for (const group of endpointGroups(journeys)) {
    const slo = LATENCY_SLOS[group];
    thresholds[`http_req_duration{endpoint:${group}}`] = [
      `p(95)<${Math.round(slo.p95Ms * settings.sloScale)}`,
      {
        threshold: `p(99)<${Math.round(slo.p99Ms * settings.sloScale)}`,
        abortOnFail: profile.abortOnLatency,
        delayAbortEval: profile.abortDelay,
      },
    ];
  }
  for (const journey of journeys) {
    thresholds[`${METRICS.journeyCompleted}{journey:${journey}}`] = [SUMMARY_ONLY_THRESHOLD];
  }
  return thresholds;
}

/** The endpoint groups the given journeys use, in catalog order. */
export function endpointGroups(journeys: JourneyName[]): EndpointGroup[] {
  const used = new Set(journeys.flatMap((j) => JOURNEYS[j].groups));
  return (Object.keys(LATENCY_SLOS) as EndpointGroup[]).filter((g) => used.has(g));
}

/** Seconds in a k6 duration such as `1h30m` or `500ms`. */
export function durationSeconds(duration: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  let total = 0;
  let rest = duration;
  const part = /^(\d+(?:\.\d+)?)(ms|s|m|h)/;
  while (rest) {
    const match = part.exec(rest);
    if (!match) throw new Error(`"${duration}" is not a k6 duration`);
    total += Number(match[1]) * units[match[2]!]!;
    rest = rest.slice(match[0].length);
  }
  return total;
}
