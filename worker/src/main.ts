/**
 * `worker` process: runs the Bull processors and repeatable jobs. On SIGTERM/SIGINT it stops
 * taking jobs and lets active ones finish within WORKER_SHUTDOWN_TIMEOUT_MS, closes pools and
 * exits 0; past the timeout it abandons them (they stall and run again elsewhere), closes pools
 * forcefully and exits 1 within SHUTDOWN_EXIT_MARGIN_MS. A signal during start-up, before any job
 * was taken, exits 0 at once.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig, SHUTDOWN_EXIT_MARGIN_MS } from '../../service/src/config.js';
import { connectReachableOrm } from '../../service/src/db/orm.js';
import {
  exitNoLaterThan,
  logAndExit,
  onShutdownSignal,
  runMain,
  settlesWithin,
} from '../../service/src/main-util.js';
import { createMetrics, startMetricsEndpoint } from '../../service/src/metrics.js';
import { cloudWatchSink } from './metrics.js';
import { startWorker, type RunningWorker } from './worker.js';

await runMain('worker', async (logger) => {
  const config = loadConfig();
  logger.level = config.LOG_LEVEL;
  const timeoutMs = config.WORKER_SHUTDOWN_TIMEOUT_MS;
  const startup = new AbortController();
  let orm: MikroORM | undefined;
  let worker: RunningWorker | undefined;

  /** Closes the database pool within `ms` (forcefully when `force`), then exits. */
  const exit = async (code: number, force: boolean, ms: number) => {
    if (orm) await settlesWithin(orm.close(force), ms);
    logAndExit(
      logger,
      code,
      code === 0 ? 'shutdown complete' : 'shutdown complete, work abandoned',
    );
  };

  const shutdown = async (signal: NodeJS.Signals) => {
    exitNoLaterThan(timeoutMs + SHUTDOWN_EXIT_MARGIN_MS, logger);
    if (!worker) {
      // No job has been taken yet: nothing to finish.
      logger.info({ signal }, 'shutting down during start-up');
      startup.abort(new Error(`${signal} during start-up`));
      return;
    }
    logger.info({ signal }, 'shutting down: taking no new jobs, finishing active ones');
    await drain(worker);
  };
  const drain = async (running: RunningWorker) => {
    const drained = await running.close(timeoutMs);
    if (drained) {
      logger.info('queues closed: every active job finished');
      await exit(0, false, SHUTDOWN_EXIT_MARGIN_MS);
    } else {
      logger.warn(
        { timeoutMs },
        'shutdown timeout reached: active jobs will stall and run again on another worker',
      );
      await exit(1, true, SHUTDOWN_EXIT_MARGIN_MS / 2);
    }
  };
  // Before anything connects, so a signal during start-up is handled too.
  onShutdownSignal((signal) => void shutdown(signal));

  logger.info({ env: config.APP_ENV }, 'worker starting');
  try {
    orm = await connectReachableOrm(config, logger);
    startup.signal.throwIfAborted();
    const registry = createMetrics();
    // Unreferenced: it never keeps the process alive, so the exit paths need not close it.
    await startMetricsEndpoint(
      registry,
      orm,
      { port: config.METRICS_PORT, host: config.HOST },
      logger,
    );
    worker = await startWorker(
      { config, orm, logger, metrics: registry },
      {
        concurrency: config.WORKER_CONCURRENCY,
        signal: startup.signal,
        ...(config.CLOUDWATCH_METRICS ? { metrics: cloudWatchSink(config.APP_ENV) } : {}),
      },
    );
  } catch (err) {
    if (!startup.signal.aborted) throw err;
    await exit(0, false, SHUTDOWN_EXIT_MARGIN_MS);
    return;
  }
  if (startup.signal.aborted) {
    // The signal came after the last abortable step: jobs may already run, so drain them.
    await drain(worker);
    return;
  }
  logger.info(
    {
      queues: worker.queues.map((q) => q.name),
      concurrency: config.WORKER_CONCURRENCY,
      env: config.APP_ENV,
    },
    'worker ready',
  );
});
