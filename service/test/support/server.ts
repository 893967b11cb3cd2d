import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MikroORM } from '@mikro-orm/postgresql';
import { appRedisGuard, createApp, type AppDeps } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Role } from '../../src/modules/users/user.entity.js';
import { connectOrm } from '../../src/db/orm.js';
import type { ReplicaRouter } from '../../src/db/replica-router.js';
import { replicaRouter } from '../../src/db/replica-routing.js';
import { replicaList } from '../../src/db/replicas.js';
import { connectCacheRedis, connectRedis, createRedis, type Redis } from '../../src/redis.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { testEnv } from './env.js';
import { ApiClient, type Account } from './client.js';
import { memoryLogger } from './logs.js';

export interface TestServer {
  baseUrl: string;
  api: ApiClient;
  config: Config;
  orm: MikroORM;
  redis: Redis;
  db: TestDatabase;
  /** The replica router, when DATABASE_REPLICA_URLS is among the overrides (as server.ts wires it). */
  replicas?: ReplicaRouter;
  /** Every log line the service wrote, as parsed JSON. */
  logs: Record<string, unknown>[];
  /** Runs parameterized SQL on the test's database, outside any request. */
  sql<T = Record<string, any>>(query: string, params?: unknown[]): Promise<T[]>;
  /**
   * Gives a user a role in the database, as an operator makes the first admin (there is no API
   * for it).
   */
  setRole(username: string, role: Role): Promise<void>;
  /** Registers a fresh user through the API, then gives it `role` if one is named. */
  register(prefix?: string, role?: Role): Promise<Account>;
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
    /** Called with every SQL statement the app's ORM sends (statement counts). */
    onQuery?: (sql: string) => void;
  } = {},
): Promise<TestServer> {
  const db: TestDatabase = options.databaseUrl
    ? { url: options.databaseUrl, drop: async () => undefined }
    : await createTestDatabase();
  const config = loadConfig(testEnv(db.url, { LOG_LEVEL: 'info', ...overrides }));
  const { logger, logs } = memoryLogger(config.LOG_LEVEL);
  const onQuery = options.onQuery;
  const orm = await connectOrm(
    config,
    logger,
    onQuery
      ? {
          onQuery: (sql: string) => {
            onQuery(sql);
            return sql;
          },
        }
      : {},
  );
  const redis = createRedis(config, logger);
  await connectRedis(redis);
  // The read cache's own client when REDIS_CACHE_URL names one, as api-main.ts does.
  const cacheRedis = await connectCacheRedis(config, logger);
  const guard = appRedisGuard(redis, config, logger);
  const list = replicaList(config, logger);
  const replicas = list && replicaRouter({ config, primary: orm, replicas: list, guard, logger });
  await replicas?.start();
  const app = createApp({
    ...options.appDeps,
    config,
    orm,
    redis,
    logger,
    ...(cacheRedis ? { cacheRedis } : {}),
    guard,
    ...(replicas ? { replicas } : {}),
  });
  const server: Server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  const api = new ApiClient(`${baseUrl}/api`);
  const sql = <T = Record<string, any>>(query: string, params: unknown[] = []) =>
    orm.em.fork().getConnection().execute<T[]>(query, params);
  const setRole = async (username: string, role: Role) => {
    await sql('update users set role = ? where username = ?', [role, username]);
  };
  return {
    baseUrl,
    api,
    config,
    orm,
    redis,
    db,
    ...(replicas ? { replicas } : {}),
    logs,
    sql,
    setRole,
    async register(prefix, role) {
      const account = await api.register(prefix);
      if (role) await setRole(account.username, role);
      return account;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await replicas?.stop();
      await orm.close(true);
      redis.disconnect();
      cacheRedis?.disconnect();
      await db.drop();
    },
  };
}
