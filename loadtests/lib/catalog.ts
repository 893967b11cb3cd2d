/**
 * What the suite knows about the API, as plain data: the journeys a virtual user can take and the
 * endpoint groups their requests are tagged with (each group has its own latency SLO). Pure: no k6
 * module is imported here, so jest can test what is derived from it.
 */

/** Names of the journeys; every scenario script exports each one as a k6 `exec` function. */
export const JOURNEY_NAMES = ['browse', 'reader', 'writer', 'graphql'] as const;
export type JourneyName = (typeof JOURNEY_NAMES)[number];

/** Names of the endpoint groups: the value of the `endpoint` tag on every journey request. */
export const ENDPOINT_GROUPS = ['list', 'feed', 'read', 'social', 'write', 'graphql'] as const;
export type EndpointGroup = (typeof ENDPOINT_GROUPS)[number];

/** Requests made outside the journeys (health gate, test data) carry `endpoint: setup`. */
export type RequestGroup = EndpointGroup | 'setup';

export interface JourneyInfo {
  /** One line for the README and the summary. */
  description: string;
  /** Requests one iteration makes at most; sizes the VU pools. */
  requests: number;
  /** Endpoint groups the journey's requests fall in. */
  groups: readonly EndpointGroup[];
}

export const JOURNEYS: Record<JourneyName, JourneyInfo> = {
  browse: {
    description: 'anonymous: home page, tags, a tag filter, an article with comments, its author',
    requests: 7,
    groups: ['list', 'read'],
  },
  reader: {
    description: 'signed in: current user, feed, an article with comments, favorite, follow',
    requests: 6,
    groups: ['read', 'feed', 'social'],
  },
  writer: {
    description: 'signed in: write an article, read it back, edit it, comment on it and on another',
    requests: 6,
    groups: ['write', 'read'],
  },
  graphql: {
    description:
      'GraphQL: article pages, tags, a tag filter, an article with comments, viewer, feed',
    requests: 7,
    groups: ['graphql'],
  },
};

export interface LatencySlo {
  /** 95th percentile of `http_req_duration`, milliseconds. */
  p95Ms: number;
  /** 99th percentile of `http_req_duration`, milliseconds. */
  p99Ms: number;
}

/**
 * Latency SLOs per endpoint group, for a production build. Writes and joins (feed, favorites,
 * follows) get more room than indexed reads; GraphQL pages resolve nested authors.
 */
export const LATENCY_SLOS: Record<EndpointGroup, LatencySlo> = {
  list: { p95Ms: 300, p99Ms: 800 },
  feed: { p95Ms: 400, p99Ms: 1000 },
  read: { p95Ms: 300, p99Ms: 800 },
  social: { p95Ms: 400, p99Ms: 1000 },
  write: { p95Ms: 600, p99Ms: 1500 },
  graphql: { p95Ms: 500, p99Ms: 1200 },
};

/** Error SLOs, the same for every profile. */
export const ERROR_SLOS = {
  /** Share of requests answered with an unexpected status, or not at all. */
  maxFailedRequestRate: 0.01,
  /** Share of checks that must pass. */
  minCheckRate: 0.99,
  /** Share of journeys that must run to their end (a failed step ends a journey early). */
  minJourneyCompletedRate: 0.99,
  /** Share of GraphQL responses that may carry `errors`. */
  maxGraphqlErrorRate: 0.01,
} as const;

/** Custom metrics (declared in lib/api.ts; named here so thresholds can refer to them). */
export const METRICS = {
  /** Counter: responses with status 429, i.e. the server's rate limit answered, not the app. */
  rateLimited: 'rate_limited',
  /** Rate: GraphQL responses whose body carries `errors` (they come with HTTP 200). */
  graphqlErrors: 'graphql_errors',
  /** Rate, tagged `journey`: journeys that ran every step. */
  journeyCompleted: 'journey_completed',
} as const;
