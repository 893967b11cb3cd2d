/**
 * Everything a run can be told through the environment (`k6 run -e NAME=value`, or the shell's
 * environment, which k6 passes to `__ENV` as well), validated once. Pure: takes the environment
 * as an argument. A bad value stops the script at start-up with a message naming the variable.
 */
import { parseWeights, type Weights } from './mix.ts';
import { durationSeconds, PROFILE_NAMES, type ProfileName } from './profiles.ts';

export type Env = Record<string, string | undefined>;

export interface Settings {
  /** Script name (the file in scenarios/), used in summaries and result file names. */
  scenario: string;
  /** Target origin without a trailing slash, e.g. `https://api.example.com`. */
  baseUrl: string;
  /** Load shape. @default 'smoke' */
  profile: ProfileName;
  /** Journey weights after `WEIGHTS` and `GRAPHQL`. */
  weights: Weights;
  /** Whether the target is expected to serve GraphQL (`GRAPHQL=0` says it does not). @default true */
  graphql: boolean;
  /** Peak arrival rate in journeys per second, replacing the profile's. @default the profile's */
  rate: number | undefined;
  /** Length of the profile's steady phase, replacing the profile's (a k6 duration). */
  duration: string | undefined;
  /** Mean pause between a journey's steps, seconds; 0 for none. @default 1 */
  thinkTimeS: number;
  /** Users `setup()` registers (tokens are shared by all VUs). @default the profile's */
  users: number | undefined;
  /** Articles each of those users writes in `setup()`. @default 2 */
  articlesPerUser: number;
  /** Factor applied to every latency SLO, for slower targets. @default 1 */
  sloScale: number;
  /** Directory `handleSummary` writes into; must exist. @default 'loadtests/results' */
  resultsDir: string;
}

export function loadSettings(env: Env, scenario: string, defaultWeights: Weights): Settings {
  const baseUrl = (env.BASE_URL ?? '').trim().replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(baseUrl)) {
    throw new Error(
      `BASE_URL must be the API's origin, e.g. -e BASE_URL=http://127.0.0.1:3000 ` +
        `(got ${baseUrl ? JSON.stringify(baseUrl) : 'nothing'})`,
    );
  }

  const profile = (env.PROFILE ?? '').trim() || 'smoke';
  if (!isProfile(profile)) {
    throw new Error(`PROFILE "${profile}" is unknown; use one of ${PROFILE_NAMES.join(', ')}`);
  }

  const graphql = flag(env, 'GRAPHQL', true);
  const weights = parseWeights(env.WEIGHTS ?? '', defaultWeights);
  if (!graphql) weights.graphql = 0;

  const duration = optional(env, 'DURATION');
  if (duration !== undefined && !(isDuration(duration) && durationSeconds(duration) > 0)) {
    throw new Error(`DURATION "${duration}" is not a k6 duration such as 90s, 10m or 1h30m`);
  }

  return {
    scenario,
    baseUrl,
    profile,
    weights,
    graphql,
    rate: positiveNumber(env, 'RATE'),
    duration,
    thinkTimeS: positiveNumber(env, 'THINK_TIME', true) ?? 1,
    users: positiveInteger(env, 'USERS'),
    articlesPerUser: positiveInteger(env, 'ARTICLES_PER_USER') ?? 2,
    sloScale: positiveNumber(env, 'SLO_SCALE') ?? 1,
    resultsDir: (optional(env, 'RESULTS_DIR') ?? 'loadtests/results').replace(/\/+$/, ''),
  };
}

function isProfile(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name);
}

function isDuration(value: string): boolean {
  try {
    durationSeconds(value);
    return true;
  } catch {
    return false;
  }
}

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const value = optional(env, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new Error(`${name} must be 1 or 0 (true/false), got "${env[name]}"`);
}

function positiveNumber(env: Env, name: string, allowZero = false): number | undefined {
  const value = optional(env, name);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !allowZero)) {
    throw new Error(`${name} must be a number ${allowZero ? '>= 0' : '> 0'}, got "${value}"`);
  }
  return n;
}

function positiveInteger(env: Env, name: string): number | undefined {
  const n = positiveNumber(env, name);
  if (n !== undefined && !Number.isInteger(n)) {
    throw new Error(`${name} must be a whole number > 0, got "${env[name]}"`);
  }
  return n;
}
