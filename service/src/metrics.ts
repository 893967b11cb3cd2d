import { createServer, type Server } from 'node:http';
import type { MikroORM } from '@mikro-orm/postgresql';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { dbPoolMetrics } from './db/pool-metrics.js';
import type { Logger } from './logger.js';

/**
 * One Prometheus registry per process (API or worker), created at start-up and handed to the parts
 * that count things (cache, queues, HTTP); the observability issue exposes it on METRICS_PORT.
 * Labels must stay bounded: route templates and fixed names, never raw URLs, ids or user input.
 */
export type Metrics = Registry;

export function createMetrics(): Metrics {
  return new Registry();
}

/**
 * The metric named `name` in `registry`, created on first use, so several parts (or several app
 * instances in one test process) can ask for the same series without registering it twice.
 */
function once<T>(registry: Metrics, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

export function counter<L extends string>(
  registry: Metrics,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  return once(registry, name, () => new Counter({ name, help, labelNames, registers: [registry] }));
}

/**
 * A gauge; with `collect`, its value is read when the registry is scraped (pool sizes, queue
 * depths) instead of being kept up to date as things change.
 */
export function gauge<L extends string>(
  registry: Metrics,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  collect?: (gauge: Gauge<L>) => void | Promise<void>,
): Gauge<L> {
  return once(
    registry,
    name,
    () =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [registry],
        ...(collect
          ? {
              collect(this: Gauge<L>) {
                return collect(this);
              },
            }
          : {}),
      }),
  );
}

export function histogram<L extends string>(
  registry: Metrics,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  buckets?: number[],
): Histogram<L> {
  return once(
    registry,
    name,
    () =>
      new Histogram({
        name,
        help,
        labelNames,
        registers: [registry],
        ...(buckets ? { buckets } : {}),
      }),
  );
}

/**
 * prom-client's process metrics (CPU, memory, event-loop lag, GC, handles) under their standard
 * names (`process_cpu_seconds_total`, `nodejs_eventloop_lag_seconds`, …).
 */
export function collectProcessMetrics(registry: Metrics): void {
  collectDefaultMetrics({ register: registry });
}

/** Seconds-valued buckets for request and job durations: 5 ms to 10 s. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The Prometheus listener of one process: `GET /metrics` in the text exposition format on its own
 * port (METRICS_PORT), apart from the API so the load balancer never routes to it. Anything else
 * is a 404. Resolves once listening; the server's address tells the port when 0 was asked for.
 */
export async function serveMetrics(
  registry: Metrics,
  options: { port: number; host: string },
  logger: Logger,
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (err: Error) => {
        logger.warn({ err: err.message }, 'metrics scrape failed');
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  // A scraper holds no request open for long; never keep the process alive for it at exit.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: Error) =>
      reject(
        new Error(
          `cannot serve metrics on ${options.host}:${options.port} (METRICS_PORT): ${err.message}`,
        ),
      ),
    );
    server.listen(options.port, options.host, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  server.unref();
  return server;
}

/** The port a listening server got (the asked one, or the OS's pick for 0). */
export function listeningPort(server: Server): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/**
 * The metrics endpoint of a process (the API and the worker start it alike): process metrics and
 * the primary pool's gauges added to `registry`, served on `port` (METRICS_PORT; 0 takes any free
 * port), and one line that says where, with `metricsPort` for whoever reads the log. The listener
 * is unreferenced (serveMetrics): it never keeps the process alive.
 */
export async function startMetricsEndpoint(
  registry: Metrics,
  orm: MikroORM,
  options: { port: number; host: string },
  logger: Logger,
): Promise<Server> {
  collectProcessMetrics(registry);
  await dbPoolMetrics(registry, orm);
  const server = await serveMetrics(registry, options, logger);
  const port = listeningPort(server);
  logger.info({ metricsPort: port }, `metrics on http://${options.host}:${port}/metrics`);
  return server;
}
