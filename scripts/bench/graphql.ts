/**
 * The `graphql` section: the GraphQL query a client sends for the anonymous article list page
 * (the k6 suite's `ArticlesPage`, first 20, every list-item field) against its REST equivalent
 * (`GET /api/articles?limit=20`), on the production build with seeded data, cached and uncached.
 * CPU per request of the app's process (and of its PostgreSQL backends), as multiples of a bare
 * Koa endpoint and of REST; the bound: GraphQL within 2× REST.
 */
import { OPERATIONS } from '../../loadtests/lib/graphql.js';
import { Stack, type LoadRequest } from '../drill/harness.js';
import type { BenchSection } from './index.js';
import { backendsOf, fmt, isolated, markdownTable, startBareKoa } from './measure.js';
import { bareCpuPerRequest, inCacheModes, measure, NO_LIMITS } from './reads.js';

/** The bound the issue sets on GraphQL's CPU per request, as a multiple of REST's. */
const MAX_RATIO = 2;

interface Row {
  request: string;
  cache: string;
  appCpuMs: number;
  dbCpuMs: number | null;
  reqPerSec: number;
  p99Ms: number;
  fixedRate: number;
  non2xx: number;
  /** GraphQL's app CPU ÷ REST's in the same cache mode. */
  vsRest: number | null;
}

const REST_LIST: LoadRequest = { path: '/api/articles?limit=20' };
const GRAPHQL_LIST: LoadRequest = {
  method: 'POST',
  path: '/graphql',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({
    query: OPERATIONS.ArticlesPage,
    variables: { first: 20 },
    operationName: 'ArticlesPage',
  }),
};

function table(rows: Row[], bareMs: number): string {
  const header = [
    'request',
    'cache',
    'app CPU ms/req',
    '× bare',
    '× REST',
    'DB CPU ms/req',
    'req/s',
    'p99 ms @ rate',
    'non-2xx',
  ];
  const lines = rows.map((r) => [
    r.request,
    r.cache,
    fmt(r.appCpuMs),
    fmt(r.appCpuMs / bareMs, 1),
    r.vsRest === null ? '' : fmt(r.vsRest, 2),
    fmt(r.dbCpuMs),
    String(r.reqPerSec),
    `${r.p99Ms} @ ${r.fixedRate}/s`,
    String(r.non2xx),
  ]);
  return markdownTable(header, lines);
}

export const graphqlSection: BenchSection = {
  name: 'graphql',
  description:
    'The anonymous article list page through GraphQL (`ArticlesPage`, first 20) and REST ' +
    '(`GET /api/articles?limit=20`) on the production build (seed: 50 users, 500 articles), ' +
    'cached (cache Redis up) and uncached (REDIS_CACHE_URL on a dead port). CPU = the app ' +
    'process’s utime+stime ÷ 2xx answers; × REST = GraphQL ÷ REST in the same cache mode ' +
    `(bound: ${MAX_RATIO}×).`,
  async run() {
    const stack = await Stack.start({ env: NO_LIMITS, accessLog: false });
    const rows: Row[] = [];
    let bareMs = 0;
    try {
      const bare = await startBareKoa();
      // Pinned like the rows it is the base of (measure runs them isolated).
      bareMs = (await isolated(bare.app.pid, () => bareCpuPerRequest(bare))).appCpuMs;
      await bare.app.stop();
      await inCacheModes(stack, async (cache) => {
        const backends = () => backendsOf(stack.orm, stack.api.pid);
        const check = await stack.fetch('/graphql', GRAPHQL_LIST as RequestInit);
        const checked = (await check.json()) as { data?: { articles?: { edges: unknown[] } } };
        if (checked.data?.articles?.edges.length !== 20) {
          throw new Error(`ArticlesPage did not answer 20 articles: ${JSON.stringify(checked)}`);
        }
        const rest = await measure(stack.apiUrl, stack.api.pid, [REST_LIST], backends, () =>
          stack.storePids(),
        );
        const gql = await measure(stack.apiUrl, stack.api.pid, [GRAPHQL_LIST], backends, () =>
          stack.storePids(),
        );
        rows.push(
          { request: 'GET /api/articles?limit=20', cache, ...rest, vsRest: null },
          {
            request: 'POST /graphql ArticlesPage(first: 20)',
            cache,
            ...gql,
            vsRest: gql.appCpuMs / rest.appCpuMs,
          },
        );
        console.log(`  measured ${cache}`);
      });
    } finally {
      await stack.close();
    }
    const worst = Math.max(...rows.map((r) => r.vsRest ?? 0));
    return {
      table: `${table(rows, bareMs)}\n\nGraphQL ÷ REST, worst: ${worst.toFixed(2)}× (bound ${MAX_RATIO}×)`,
      data: { rows, bareAppCpuMs: bareMs, worstRatio: worst, bound: MAX_RATIO },
    };
  },
};
