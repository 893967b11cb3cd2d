import type { PlinthConfig } from './config.js';

/**
 * Memory of the RDS instance classes (GiB, as AWS lists them), from which RDS for PostgreSQL sets
 * its default `max_connections`. Add a class here before an environment uses it.
 */
export const RDS_INSTANCE_MEMORY_GIB: Readonly<Record<string, number>> = {
  't4g.micro': 1,
  't4g.small': 2,
  't4g.medium': 4,
  't4g.large': 8,
  't4g.xlarge': 16,
  'm7g.large': 8,
  'm7g.xlarge': 16,
  'm7g.2xlarge': 32,
  'r7g.large': 16,
  'r7g.xlarge': 32,
};

/**
 * Share of `max_connections` the app's pools may take together. The rest is headroom: the
 * superuser slots PostgreSQL and RDS reserve (3 + 2), operators and monitoring, the bootstrap
 * job, pools of a rolling deploy's old and new tasks overlapping for a moment, and RDS's real
 * `DBInstanceClassMemory` being somewhat below the class's listed memory.
 */
export const CONNECTION_BUDGET_SHARE = 0.8;

/**
 * RDS for PostgreSQL's default `max_connections`: `LEAST(DBInstanceClassMemory / 9531392, 5000)`
 * (the parameter group leaves it at the default), from the listed memory.
 */
export function rdsMaxConnections(instanceType: string): number {
  const gib = RDS_INSTANCE_MEMORY_GIB[instanceType];
  if (gib === undefined) {
    throw new Error(
      `no memory figure for db.${instanceType}: add it to RDS_INSTANCE_MEMORY_GIB (infra/lib/connection-budget.ts)`,
    );
  }
  return Math.min(Math.floor((gib * 1024 ** 3) / 9_531_392), 5000);
}

/** Connections per process, as each container's configuration resolves them. */
export interface PoolSizes {
  /** API task → primary (DATABASE_POOL_MAX of the API). */
  apiPrimary: number;
  /** API task → each replica (DATABASE_REPLICA_POOL_MAX). */
  apiReplica: number;
  /** Worker task → primary (DATABASE_POOL_MAX of the worker). */
  worker: number;
  /** The one-off migrate task → primary. */
  migrate: number;
}

/** What the pools can open at the environment's task maxima, against what the instances allow. */
export interface ConnectionBudget {
  primary: { demand: number; budget: number; maxConnections: number };
  /** Per replica (each API task has one pool per replica); undefined without replicas. */
  replica?: { demand: number; budget: number; maxConnections: number };
}

/**
 * The sizing rule (docs/read-replicas.md): at every service's task maximum, the pools' total
 * on each instance stays within {@link CONNECTION_BUDGET_SHARE} of its `max_connections`.
 * Primary: API tasks × DATABASE_POOL_MAX + worker tasks × DATABASE_POOL_MAX + the migrate task.
 * Each replica: API tasks × DATABASE_REPLICA_POOL_MAX (only the API reads replicas).
 */
export function connectionBudget(config: PlinthConfig, pools: PoolSizes): ConnectionBudget {
  const maxConnections = rdsMaxConnections(config.database.instanceType);
  const budget = Math.floor(maxConnections * CONNECTION_BUDGET_SHARE);
  const { service, worker } = config;
  return {
    primary: {
      demand: service.maxTasks * pools.apiPrimary + worker.maxTasks * pools.worker + pools.migrate,
      budget,
      maxConnections,
    },
    ...(config.database.readReplicas > 0
      ? {
          replica: {
            demand: service.maxTasks * pools.apiReplica,
            budget,
            maxConnections,
          },
        }
      : {}),
  };
}
