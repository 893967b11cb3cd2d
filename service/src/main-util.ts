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

/** Calls `handler` once, on the first SIGTERM or SIGINT (a second signal changes nothing). */
export function onShutdownSignal(handler: (signal: NodeJS.Signals) => void): void {
  let called = false;
  const once = (signal: NodeJS.Signals) => {
    if (called) return;
    called = true;
    handler(signal);
  };
  process.on('SIGTERM', once);
  process.on('SIGINT', once);
}

/**
 * The last resort that bounds a shutdown: exits 1 `ms` from now, whatever is still running (a
 * pool that will not close on a frozen server, a job that ignores its stop). Does not keep the
 * process alive by itself.
 */
export function exitNoLaterThan(ms: number, logger: Logger): void {
  setTimeout(() => {
    logAndExit(logger, 1, 'shutdown did not finish in time: exiting now', { afterMs: ms });
  }, ms).unref();
}

/** Logs the last line (error level unless the code is 0) and exits, even if it cannot log. */
export function logAndExit(
  logger: Logger,
  code: number,
  message: string,
  fields: Record<string, unknown> = {},
): never {
  try {
    if (code === 0) logger.info(fields, message);
    else logger.error({ ...fields, exitCode: code }, message);
  } finally {
    // Even when stdout is gone (EPIPE): an exit that depends on logging is no bound.
    process.exit(code);
  }
}

/** Resolves true when `work` settles within `ms`, false otherwise (the work is not cancelled). */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  const settled = work.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
