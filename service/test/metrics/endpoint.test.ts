import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { UNMATCHED_ROUTE } from '../../src/http/metrics.js';
import {
  createMetrics,
  listeningPort,
  startMetricsEndpoint,
  type Metrics,
} from '../../src/metrics.js';
import { memoryLogger } from '../support/logs.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** Every `name{labels}` series of one metric in an exposition text, as label objects. */
function series(text: string, name: string): Record<string, string>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`))
    .map((line) => {
      const labels = line.slice(name.length + 1, line.indexOf('}'));
      return Object.fromEntries(
        [...labels.matchAll(/(\w+)="([^"]*)"/g)].map(([, key, value]) => [key, value]),
      );
    });
}

describe('metrics endpoint (METRICS_PORT)', () => {
  let server: TestServer;
  let metrics: Metrics;
  let listener: Server;
  let scrapeUrl: string;

  beforeAll(async () => {
    metrics = createMetrics();
    server = await startTestServer({}, { appDeps: { metrics } });
    listener = await startMetricsEndpoint(
      metrics,
      server.orm,
      { port: 0, host: '127.0.0.1' },
      memoryLogger().logger,
    );
    scrapeUrl = `http://127.0.0.1:${listeningPort(listener)}/metrics`;

    const author = await server.register('metrics');
    const article = await server.api.createArticle(author.token, { title: 'Counted once' });
    // Raw paths with ids and user input, which must never become label values.
    await fetch(`${server.baseUrl}/api/articles/${article.slug}`);
    await fetch(`${server.baseUrl}/api/articles/no-such-slug-${Date.now()}`);
    await fetch(`${server.baseUrl}/api/profiles/${author.username}`);
    await fetch(`${server.baseUrl}/api/articles?limit=0`);
    await fetch(`${server.baseUrl}/wp-admin/${Date.now()}.php`);
    await fetch(`${server.baseUrl}/api/articles`, { method: 'PATCH' });
    await fetch(`${server.baseUrl}/health/live`);
  }, 60_000);

  afterAll(async () => {
    listener?.close();
    await server?.close();
  });

  it('serves the named series in the Prometheus text format on its own listener', async () => {
    const res = await fetch(scrapeUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const name of [
      'http_requests_total',
      'http_request_duration_seconds_bucket',
      'db_pool_connections',
      'db_pool_waiting_requests',
      'db_pool_max_connections',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
      'process_resident_memory_bytes',
    ]) {
      expect({ name, present: text.includes(`\n${name}`) }).toEqual({ name, present: true });
    }
    expect(
      series(text, 'db_pool_connections')
        .map((l) => l.state)
        .sort(),
    ).toEqual(['busy', 'idle']);
    // The API's own port does not serve metrics.
    expect((await fetch(`${server.baseUrl}/metrics`)).status).toBe(404);
    expect((await fetch(scrapeUrl.replace('/metrics', '/other'))).status).toBe(404);
  });

  it('labels requests by route template, never by raw path, and unmatched paths by one label', async () => {
    const text = await (await fetch(scrapeUrl)).text();
    const requests = series(text, 'http_requests_total');
    const routes = new Set(requests.map((l) => l.route));
    expect(routes).toEqual(
      new Set([
        '/api/users',
        '/api/articles',
        '/api/articles/:slug',
        '/api/profiles/:username',
        '/health/live',
        UNMATCHED_ROUTE,
      ]),
    );
    expect(requests).toEqual(
      expect.arrayContaining([
        { method: 'GET', route: '/api/articles/:slug', status: '200' },
        { method: 'GET', route: '/api/articles/:slug', status: '404' },
        { method: 'GET', route: '/api/articles', status: '422' },
        { method: 'POST', route: '/api/articles', status: '201' },
        { method: 'GET', route: UNMATCHED_ROUTE, status: '404' },
        { method: 'PATCH', route: UNMATCHED_ROUTE, status: '405' },
      ]),
    );
    const durations = series(text, 'http_request_duration_seconds_bucket');
    expect(new Set(durations.map((l) => l.status_class))).toEqual(new Set(['2xx', '4xx']));
    expect(text).not.toMatch(/no-such-slug|wp-admin|counted-once/);
  });
});
