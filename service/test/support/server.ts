import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MikroORM } from '@mikro-orm/postgresql';
import { createApp, type AppDeps } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { connectOrm } from '../../src/db/orm.js';
import { connectRedis, createRedis, type Redis } from '../../src/redis.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { testEnv } from './env.js';
import { ApiClient } from './client.js';
import { memoryLogger } from './logs.js';

export interface TestServer {
  baseUrl: string;
  api: ApiClient;
  config: Config;
  orm: MikroORM;
  redis: Redis;
  db: TestDatabase;
  /** Every log line the service wrote, as parsed JSON. */
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * The real service on a real port, with its own database and Redis key prefix. Logs are captured
 * in memory at `info` so tests can assert on them.
 */
export async function startTestServer(
  overrides: Record<string, string> = {},
  options: {
    /** Serve this existing database instead of a fresh one; close() then leaves it in place. */
    databaseUrl?: string;
    /** Listen on this port (e.g. from freePort()) when the URL must be known up front (PUBLIC_URL). */
    port?: number;
    /** Optional dependencies handed to createApp as they are (test-only switches, observers). */
    appDeps?: Partial<Omit<AppDeps, 'config' | 'orm' | 'redis' | 'logger'>>;
  } = {},
): Promise<TestServer> {
  const db: TestDatabase = options.databaseUrl
    ? { url: options.databaseUrl, drop: async () => undefined }
    : await createTestDatabase();
  const config = loadConfig(testEnv(db.url, { LOG_LEVEL: 'info', ...overrides }));
  const { logger, logs } = memoryLogger(config.LOG_LEVEL);
  const orm = await connectOrm(config, logger);
  const redis = createRedis(config, logger);
  await connectRedis(redis);
  const app = createApp({ ...options.appDeps, config, orm, redis, logger });
  const server: Server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    api: new ApiClient(`${baseUrl}/api`),
    config,
    orm,
    redis,
    db,
    logs,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await orm.close(true);
      redis.disconnect();
      await db.drop();
    },
  };
}
