import { ConfigError } from './config.js';
import { createLogger, type Logger } from './logger.js';

/**
 * Runs a process entry point: a config error prints the fix and exits 1; any other failure is
 * logged and exits 1. Long-running entry points keep the process alive themselves.
 */
export async function runMain(
  name: string,
  main: (logger: Logger) => Promise<void>,
): Promise<void> {
  const logger = createLogger({ level: process.env.LOG_LEVEL || 'info', name });
  try {
    await main(logger);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`);
    } else {
      logger.fatal({ err }, `${name} failed: ${(err as Error).message}`);
    }
    process.exitCode = 1;
    // Give the logger a tick to flush, then make sure nothing keeps the process alive.
    setTimeout(() => process.exit(1), 100).unref();
  }
}
