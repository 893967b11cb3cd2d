/**
 * The k6 side of talking to the API: one request function that tags every request with its
 * endpoint group and route (so thresholds and summaries group by them, with few tag values), the
 * custom metrics, and `expectOk`, which checks a response and hands back the part a journey needs.
 */
import { check } from 'k6';
// Named imports only: a bundle then reads them straight off `require('k6/http')`, with no
// default-export interop that differs between k6 versions.
import {
  expectedStatuses,
  request as httpRequest,
  type Params,
  type RefinedResponse,
  type ResponseType,
} from 'k6/http';
import { Counter, Rate } from 'k6/metrics';
import { METRICS, type JourneyName, type RequestGroup } from './catalog.ts';
import { graphqlRequest, type OperationName } from './graphql.ts';

export type Response = RefinedResponse<ResponseType | undefined>;

// Custom metrics must be created in the init context, i.e. at module load.
const rateLimited = new Counter(METRICS.rateLimited);
const graphqlErrors = new Rate(METRICS.graphqlErrors);
const journeyCompleted = new Rate(METRICS.journeyCompleted);

export interface Call {
  /** Endpoint group: the `endpoint` tag, which the latency SLOs select on. */
  endpoint: RequestGroup;
  /** Route template for the `name` tag, e.g. `GET /api/articles/{slug}`. */
  name: string;
  /** Sent as `Authorization: Token <jwt>`. */
  token?: string;
  /** Statuses that are not failures for `http_req_failed`. @default any 2xx or 3xx */
  expect?: number[];
}

export class Api {
  constructor(readonly baseUrl: string) {}

  request(method: string, path: string, body: unknown, call: Call): Response {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (call.token) headers.Authorization = `Token ${call.token}`;
    const params: Params = {
      headers,
      tags: { name: call.name, endpoint: call.endpoint },
    };
    if (call.expect) params.responseCallback = expectedStatuses(...call.expect);
    const res = httpRequest(
      method,
      `${this.baseUrl}${path}`,
      body === undefined ? null : JSON.stringify(body),
      params,
    );
    if (res.status === 429 && !call.expect?.includes(429)) {
      rateLimited.add(1, { endpoint: call.endpoint });
    }
    return res;
  }

  get(path: string, call: Call): Response {
    return this.request('GET', path, undefined, call);
  }

  /** One GraphQL operation; a 200 whose body carries `errors` counts in `graphql_errors`. */
  graphql(operation: OperationName, variables: object, token?: string): Response {
    const res = this.request(
      'POST',
      '/graphql',
      graphqlRequest(operation, variables),
      graphqlCall(operation, token),
    );
    const body = jsonBody(res) as { errors?: unknown[] } | undefined;
    if (res.status === 200)
      graphqlErrors.add(Array.isArray(body?.errors) && body.errors.length > 0);
    return res;
  }
}

/** How a GraphQL operation is tagged: one `name` per operation, all in the `graphql` group. */
export function graphqlCall(operation: OperationName, token?: string): Call {
  return { endpoint: 'graphql', name: `graphql ${operation}`, token };
}

/** Parsed JSON body, or undefined when there is none. */
function jsonBody(res: Response): unknown {
  if (typeof res.body !== 'string' || res.body === '') return undefined;
  try {
    return JSON.parse(res.body);
  } catch {
    return undefined;
  }
}

let failuresLogged = 0;

/**
 * Checks that `res` has one of `statuses` and that `pick` finds what the journey needs in its
 * body; returns that, or undefined (the journey then stops: later steps depend on it). The first
 * few failures per VU are logged with the response, enough to diagnose without flooding.
 */
export function expectOk<T>(
  res: Response,
  call: Call,
  statuses: number[],
  pick: (body: unknown) => T | undefined,
): T | undefined {
  const body = jsonBody(res);
  let picked: T | undefined;
  const passed = check(res, {
    [`${call.name} ${statuses.join('|')}`]: (r) => statuses.includes(r.status),
    [`${call.name} body`]: () => {
      picked = statuses.includes(res.status) ? pick(body) : undefined;
      return picked !== undefined;
    },
  });
  if (!passed && failuresLogged < 5) {
    failuresLogged += 1;
    const text = typeof res.body === 'string' ? res.body.slice(0, 300) : '';
    console.warn(`${call.name}: got ${res.status || res.error} ${text}`);
  }
  return passed ? picked : undefined;
}

/** Records whether a journey reached its end. */
export function recordJourney(journey: JourneyName, completed: boolean): void {
  journeyCompleted.add(completed, { journey });
}
