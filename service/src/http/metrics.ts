import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { counter, DURATION_BUCKETS, histogram, type Metrics } from '../metrics.js';
import type { AppContext, AppState } from './state.js';

/** The `route` label of requests no route matched (unknown paths, 405s, scanners). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The route template a request belongs to (`/api/articles/:slug`), never its raw path: the label
 * must stay bounded whatever URLs clients send. The router's own match when the request reached
 * it; otherwise (refused earlier: 413, 429, 503, timeout) the API route its path and method
 * match; otherwise UNMATCHED_ROUTE.
 */
export function routeTemplateOf(api: Router<AppState>): (ctx: AppContext) => string {
  return (ctx) => {
    const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
    if (typeof matched === 'string') return matched;
    const layer = api.match(ctx.path, ctx.method).pathAndMethod.at(-1);
    return typeof layer?.path === 'string' ? layer.path : UNMATCHED_ROUTE;
  };
}

/**
 * RED metrics per route template: `http_requests_total{method,route,status}` (rate and errors)
 * and `http_request_duration_seconds{method,route,status_class}` (duration). Status classes
 * (2xx…5xx) keep the histogram's series few; the counter keeps the exact code. Methods outside
 * the usual set count as OTHER, so a client inventing methods adds no series.
 */
export function requestMetrics(
  registry: Metrics,
  routeOf: (ctx: AppContext) => string,
): Middleware<AppState> {
  const requests = counter(
    registry,
    'http_requests_total',
    'HTTP requests answered, by method, route template and status code',
    ['method', 'route', 'status'],
  );
  const duration = histogram(
    registry,
    'http_request_duration_seconds',
    'Time from the request reaching the app to its response, by method, route template and status class',
    ['method', 'route', 'status_class'],
    DURATION_BUCKETS,
  );
  const methods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
  return async (ctx, next) => {
    const stop = duration.startTimer();
    try {
      await next();
    } finally {
      const method = methods.has(ctx.method) ? ctx.method : 'OTHER';
      const route = routeOf(ctx);
      const status = ctx.status;
      requests.inc({ method, route, status: String(status) });
      stop({ method, route, status_class: `${Math.floor(status / 100)}xx` });
    }
  };
}
