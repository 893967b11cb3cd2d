/**
 * `service` process: the HTTP API. Listens on PORT; on SIGTERM/SIGINT stops accepting, lets
 * in-flight requests finish within SHUTDOWN_TIMEOUT_MS, closes pools and exits 0.
 */
import { createServer, type Server } from 'node:http';
import { createApp } from './app.js';
import { loadConfig } from './config.js';
import { connectReachableOrm } from './db/orm.js';
import { runMain } from './main-util.js';
import type { Lifecycle } from './modules/health/health.routes.js';
import { connectRedis, createRedis } from './redis.js';

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

  const lifecycle: Lifecycle = { shuttingDown: false };
  const app = createApp({ config, orm, redis, logger, lifecycle });
  const server = createServer(app.callback());
  // Longer than the load balancer's idle timeout (60 s) so it never reuses a closed connection.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    lifecycle.shuttingDown = true;
    logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const force = setTimeout(() => {
      logger.warn('shutdown timeout reached: closing remaining connections');
      server.closeAllConnections();
    }, config.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    // Keep-alive sockets become idle one by one as their last response goes out; close each then.
    const reaper = setInterval(() => server.closeIdleConnections(), 100);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    clearInterval(reaper);
    clearTimeout(force);
    await Promise.allSettled([orm.close(), redis.quit()]);
    logger.info('shutdown complete');
    process.exit(0);
  };
  // Handlers first: a SIGTERM that arrives right after 'listening' must already drain.
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  await listen(server, config.PORT, config.HOST);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  logger.info({ port, env: config.APP_ENV }, `service listening on http://${config.HOST}:${port}`);
});
