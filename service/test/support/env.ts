/** Where tests find PostgreSQL and Redis (the shared ones `npm run services:up` provides). */
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A unique, identifier-safe suffix for databases and key prefixes of one test file. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Environment for a service under test; every test gets its own database and key prefix. */
export function testEnv(
  databaseUrl: string,
  overrides: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: `${uniqueName('t')}:`,
    JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-0123456789',
    LOG_LEVEL: 'silent',
    // Cheaper hashing keeps suites fast; production parameters are covered by the users tests.
    ARGON2_MEMORY_KIB: '4096',
    ARGON2_TIME_COST: '1',
    // Suites register many users from one IP; the security tests turn limits on with small values.
    RATE_LIMIT_ENABLED: 'false',
    // Production waits 3 s after SIGTERM for the load balancer; tests that drain set their own.
    SHUTDOWN_DRAIN_DELAY_MS: '0',
    // Processes under test run side by side: each metrics listener takes a free port.
    METRICS_PORT: '0',
    ...overrides,
  };
}
