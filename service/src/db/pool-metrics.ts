import type { MikroORM } from '@mikro-orm/postgresql';
import { gauge, type Metrics } from '../metrics.js';

/**
 * The primary's connection pool (node-postgres, under MikroORM's kysely dialect), read at each
 * scrape: `db_pool_connections{state="idle"|"busy"}`, `db_pool_waiting_requests` (callers queued
 * for a connection: the pool is exhausted) and `db_pool_max_connections` (DATABASE_POOL_MAX).
 */
export async function dbPoolMetrics(registry: Metrics, orm: MikroORM): Promise<void> {
  const pool = await orm.em.getConnection().getNativeClient();
  gauge(
    registry,
    'db_pool_connections',
    'Connections of the primary database pool, by state (busy: lent to a query or transaction)',
    ['state'],
    (g) => {
      g.set({ state: 'idle' }, pool.idleCount);
      g.set({ state: 'busy' }, pool.totalCount - pool.idleCount);
    },
  );
  gauge(
    registry,
    'db_pool_waiting_requests',
    'Callers waiting for a connection of the primary database pool (non-zero: pool exhausted)',
    [],
    (g) => g.set(pool.waitingCount),
  );
  gauge(
    registry,
    'db_pool_max_connections',
    'Size limit of the primary database pool (DATABASE_POOL_MAX)',
    [],
    (g) => g.set(pool.options.max ?? 10),
  );
}
