/**
 * `service` process: the HTTP API. Listens on PORT. On SIGTERM/SIGINT it drains the way the load
 * balancer expects (docs/operations.md, "Shutdown"): readiness 503 while still accepting for
 * SHUTDOWN_DRAIN_DELAY_MS, then no new connections and in-flight requests finish within
 * SHUTDOWN_TIMEOUT_MS, pools close, exit 0. Past the timeout: connections cut, pools closed
 * forcefully, exit 1, within SHUTDOWN_EXIT_MARGIN_MS.
 */
import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { appRedisGuard, createApp } from './app.js';
import { loadConfig, SHUTDOWN_EXIT_MARGIN_MS } from './config.js';
import { safeUrl } from './logger.js';
import { connectReachableOrm } from './db/orm.js';
import { replicaRouter } from './db/replica-routing.js';
import { replicaList } from './db/replicas.js';
import {
  exitNoLaterThan,
  logAndExit,
  onShutdownSignal,
  runMain,
  settlesWithin,
} from './main-util.js';
import { createMetrics, startMetricsEndpoint } from './metrics.js';
import type { Lifecycle } from './modules/health/health.routes.js';
import { connectCacheRedis, connectRedis, createRedis } from './redis.js';

/** An open request in `inFlightRequests`' list, oldest first. */
interface OpenRequest {
  request: string;
  since: number;
  prev: OpenRequest | undefined;
  next: OpenRequest | undefined;
}

/**
 * The requests the app is handling (from complete headers to the end of the response), so a drain
 * waits for requests rather than for connections: a socket still sending its headers holds no
 * work and must not hold up the exit. `oldest()` names what a timed-out drain abandons.
 *
 * A linked list whose removed nodes drop their links, not a Map: a long-lived Map that gains and
 * loses an entry per request gets a new table every few requests (a table's slots count deleted
 * entries too), and V8 leaves each replaced table pointing at its successor and at the responses
 * it held. Once one table had reached the
 * old generation, every later table and every response in it stayed alive through each young
 * collection and was promoted: megabytes per scavenge, frequent full collections, and p99 latency
 * in the hundreds of milliseconds at half capacity (docs/read-path.md, "Benchmark").
 */
function inFlightRequests(server: Server) {
  let head: OpenRequest | undefined;
  let tail: OpenRequest | undefined;
  let count = 0;
  let waiters: (() => void)[] = [];
  server.on('request', (req, res) => {
    const node: OpenRequest = {
      request: `${req.method} ${safeUrl(req.url ?? '')}`,
      since: Date.now(),
      prev: tail,
      next: undefined,
    };
    if (tail) tail.next = node;
    else head = node;
    tail = node;
    count++;
    res.once('close', () => {
      if (node.prev) node.prev.next = node.next;
      else head = node.next;
      if (node.next) node.next.prev = node.prev;
      else tail = node.prev;
      node.prev = node.next = undefined;
      if (--count > 0) return;
      for (const wake of waiters) wake();
      waiters = [];
    });
  });
  return {
    drained: () =>
      count === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve)),
    /** Up to `n` open requests, oldest first, with their age. */
    oldest: (n: number) => {
      const out: { request: string; since: number; ageMs: number }[] = [];
      for (let r = head; r && out.length < n; r = r.next) {
        out.push({ request: r.request, since: r.since, ageMs: Date.now() - r.since });
      }
      return out;
    },
    get count() {
      return count;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

await runMain('service', async (logger) => {
  const config = loadConfig();
  logger.level = config.LOG_LEVEL;
  const orm = await connectReachableOrm(config, logger);
  const redis = createRedis(config, logger);
  await connectRedis(redis);
  const cacheRedis = await connectCacheRedis(config, logger);
  const metrics = createMetrics();
  const guard = appRedisGuard(redis, config, logger);
  // With replicas configured or discoverable, plain reads are routed to them (docs/read-replicas.md).
  const list = replicaList(config, logger);
  const replicas =
    list && replicaRouter({ config, primary: orm, replicas: list, guard, logger, metrics });
  await replicas?.start();

  const metricsServer = await startMetricsEndpoint(
    metrics,
    orm,
    { port: config.METRICS_PORT, host: config.HOST },
    logger,
  );

  const lifecycle: Lifecycle = { shuttingDown: false };
  const app = createApp({
    config,
    orm,
    redis,
    logger,
    lifecycle,
    guard,
    ...(replicas ? { replicas } : {}),
    ...(cacheRedis ? { cacheRedis } : {}),
    metrics,
  });
  const server = createServer(app.callback());
  // Longer than the load balancer's idle timeout (60 s) so it never reuses a closed connection;
  // then headers, then the whole request, each bounded a little later (docs/security.md, "Slow
  // clients"). A body still arriving after REQUEST_TIMEOUT_MS has had its 503 already; the request
  // timeout only stops Node from reading the rest of it for the default 5 minutes.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 70_000;
  const requests = inFlightRequests(server);

  const shutdown = async (signal: NodeJS.Signals) => {
    const drainMs = config.SHUTDOWN_DRAIN_DELAY_MS;
    const timeoutMs = config.SHUTDOWN_TIMEOUT_MS;
    exitNoLaterThan(drainMs + timeoutMs + SHUTDOWN_EXIT_MARGIN_MS, logger);
    lifecycle.shuttingDown = true;
    list?.stop();
    logger.info(
      { signal, drainDelayMs: drainMs },
      'shutting down: readiness 503, still accepting during the drain delay',
    );
    // The load balancer stops routing to this task when ECS deregisters it; requests it already
    // routed (and its health checks, which now fail) must still find a listener.
    await sleep(drainMs);

    logger.info(
      { timeoutMs },
      'drain delay over: no new connections, finishing in-flight requests',
    );
    const deadline = Date.now() + timeoutMs;
    server.close();
    // Keep-alive sockets are closed only between requests: idle ones now, busy ones as their
    // response goes out (they carry `Connection: close`), so no request is cut mid-flight.
    server.closeIdleConnections();
    const reaper = setInterval(() => server.closeIdleConnections(), 100);
    const served = await settlesWithin(requests.drained(), timeoutMs);
    clearInterval(reaper);
    if (!served) {
      logger.warn(
        { inFlightRequests: requests.count, oldest: requests.oldest(5) },
        'shutdown timeout reached: cutting in-flight requests, closing pools forcefully',
      );
    }
    // Cut what is left: after a clean drain, only sockets still sending headers (no request the
    // app has seen; a load balancer never does that); after the timeout, the abandoned requests.
    server.closeAllConnections();
    metricsServer.close();
    metricsServer.closeAllConnections();
    const pooled =
      served &&
      (await settlesWithin(
        Promise.allSettled([orm.close(), redis.quit(), cacheRedis?.quit(), replicas?.stop()]),
        deadline - Date.now(),
      ));
    if (!pooled) {
      if (served) logger.warn('shutdown timeout reached: closing pools forcefully');
      redis.disconnect();
      cacheRedis?.disconnect();
      // A frozen database never acknowledges the close; the exit below ends its sockets.
      await settlesWithin(
        Promise.allSettled([orm.close(true), replicas?.stop()]),
        SHUTDOWN_EXIT_MARGIN_MS / 2,
      );
    }
    if (pooled) logAndExit(logger, 0, 'shutdown complete');
    logAndExit(logger, 1, 'shutdown complete, work abandoned');
  };
  // Handlers first: a SIGTERM that arrives right after 'listening' must already drain.
  onShutdownSignal((signal) => void shutdown(signal));

  await listen(server, config.PORT, config.HOST);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  logger.info({ port, env: config.APP_ENV }, `service listening on http://${config.HOST}:${port}`);
});
