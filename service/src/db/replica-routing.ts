import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { RedisGuard } from '../redis-guard.js';
import { connectOrm, type Orm } from './orm.js';
import { ReadYourWrites } from './read-your-writes.js';
import { ReplicaRouter } from './replica-router.js';
import type { ReplicaList } from './replicas.js';

export type ReplicaRoutingConfig = Pick<
  Config,
  | 'DATABASE_URL'
  | 'DATABASE_USER'
  | 'DATABASE_PASSWORD'
  | 'DATABASE_SSL'
  | 'DATABASE_SSL_CA_FILE'
  | 'DATABASE_CONNECT_TIMEOUT_MS'
  | 'DATABASE_REPLICA_POOL_MAX'
  | 'DATABASE_REPLICA_MAX_LAG_MS'
  | 'DATABASE_REPLICA_HEALTH_INTERVAL_MS'
  | 'DATABASE_REPLICA_RYW_TTL_MS'
  | 'REDIS_KEY_PREFIX'
>;

/**
 * The replica router for the API, from the configuration: a pool of DATABASE_REPLICA_POOL_MAX
 * connections per replica in `replicas` (same credentials and TLS settings as the primary),
 * read-your-writes floors in the app's main Redis through `guard` (the queue Redis, which never
 * evicts: a floor evicted early would be a stale read). Call `start()` before serving.
 */
export function replicaRouter(deps: {
  config: ReplicaRoutingConfig;
  primary: Orm;
  replicas: ReplicaList;
  guard: RedisGuard;
  logger: Logger;
  metrics?: Metrics;
}): ReplicaRouter {
  const { config } = deps;
  return new ReplicaRouter({
    primary: deps.primary,
    replicas: deps.replicas,
    connect: (url) =>
      connectOrm(
        { ...config, DATABASE_URL: url, DATABASE_POOL_MAX: config.DATABASE_REPLICA_POOL_MAX },
        deps.logger,
      ),
    readYourWrites: new ReadYourWrites({
      guard: deps.guard,
      keyPrefix: config.REDIS_KEY_PREFIX,
      ttlMs: config.DATABASE_REPLICA_RYW_TTL_MS,
    }),
    maxLagMs: config.DATABASE_REPLICA_MAX_LAG_MS,
    healthIntervalMs: config.DATABASE_REPLICA_HEALTH_INTERVAL_MS,
    floorTtlMs: config.DATABASE_REPLICA_RYW_TTL_MS,
    logger: deps.logger,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });
}
