/**
 * `worker` process: runs the Bull processors and repeatable jobs. On SIGTERM/SIGINT stops taking
 * jobs, lets active ones finish within WORKER_SHUTDOWN_TIMEOUT_MS, closes pools and exits 0.
 */
import { loadConfig } from '../../service/src/config.js';
import { connectReachableOrm } from '../../service/src/db/orm.js';
import { runMain } from '../../service/src/main-util.js';
import { cloudWatchSink } from './metrics.js';
import { startWorker } from './worker.js';

await runMain('worker', async (logger) => {
  const config = loadConfig();
  logger.level = config.LOG_LEVEL;
  const orm = await connectReachableOrm(config, logger);

  const worker = await startWorker(
    { config, orm, logger },
    {
      concurrency: config.WORKER_CONCURRENCY,
      ...(config.CLOUDWATCH_METRICS ? { metrics: cloudWatchSink(config.APP_ENV) } : {}),
    },
  );
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: taking no new jobs, finishing active ones');
    const drained = await worker.close(config.WORKER_SHUTDOWN_TIMEOUT_MS);
    if (drained) {
      logger.info('queues closed: every active job finished');
    } else {
      logger.warn(
        { timeoutMs: config.WORKER_SHUTDOWN_TIMEOUT_MS },
        'shutdown timeout reached: active jobs will stall and run again on another worker',
      );
    }
    await orm.close();
    logger.info('shutdown complete');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  logger.info(
    {
      queues: worker.queues.map((q) => q.name),
      concurrency: config.WORKER_CONCURRENCY,
      env: config.APP_ENV,
    },
    'worker ready',
  );
});
