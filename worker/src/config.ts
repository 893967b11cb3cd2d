import { z } from 'zod';
import { ConfigError } from '../../service/src/config.js';

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/**
 * Variables only the worker reads, validated at boot next to `loadConfig()` (which stays the
 * one schema for everything every process shares).
 */
export const workerConfigSchema = z.object({
  /** Jobs one worker task runs at once, per queue. */
  WORKER_CONCURRENCY: int(1, 100).default(4),
  /** How long SIGTERM waits for active jobs; below the ECS stopTimeout (120 s). */
  WORKER_SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(110_000),
});

export type WorkerConfig = z.infer<typeof workerConfigSchema>;

/** Validates the worker's variables; throws ConfigError naming each bad one, like loadConfig(). */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const input = Object.fromEntries(
    Object.keys(workerConfigSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const result = workerConfigSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const key = String(issue.path[0]);
      return `${key} ${issue.message}; got "${String(input[key]).slice(0, 80)}".`;
    }),
  );
}
