import { MikroORM, defineConfig, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { databaseHost, databaseTarget, databaseUrl, type Config } from '../config.js';
import type { Logger } from '../logger.js';
import { entities } from './entities.js';
import { migrations } from './migrations/index.js';
import { isCertificateError, postgresCaSource, postgresSsl } from './tls.js';

export type Orm = MikroORM;

type DbConfig = Pick<
  Config,
  'DATABASE_URL' | 'DATABASE_USER' | 'DATABASE_PASSWORD' | 'DATABASE_SSL' | 'DATABASE_POOL_MAX'
> &
  Partial<Pick<Config, 'DATABASE_CONNECT_TIMEOUT_MS' | 'DATABASE_SSL_CA_FILE'>>;

/** MikroORM options for the primary database; shared by the service, worker, migrate and seed. */
export function ormOptions(config: DbConfig, logger?: Logger): Options {
  const url = databaseUrl(config);
  const ssl = postgresSsl(config, databaseHost(url));
  return defineConfig({
    clientUrl: url,
    entities,
    extensions: [Migrator],
    // Every unit of work forks its own EntityManager; touching the global one is a bug.
    allowGlobalContext: false,
    // Never create a missing database behind the operator's back (a typo in DATABASE_URL, or a
    // dropped database, must fail loudly); `npm run dev` and tests create theirs explicitly.
    ensureDatabase: false,
    pool: { min: 0, max: config.DATABASE_POOL_MAX, idleTimeoutMillis: 30_000 },
    driverOptions: {
      // Also bounds the wait for a free connection from a full pool (pg-pool). Tools that pass
      // no config for it keep pg's default (wait as long as it takes).
      ...(config.DATABASE_CONNECT_TIMEOUT_MS
        ? { connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS }
        : {}),
      ...(ssl ? { ssl } : {}),
    },
    migrations: {
      tableName: 'mikro_orm_migrations',
      migrationsList: migrations,
      snapshot: false,
      transactional: true,
      allOrNothing: true,
    },
    logger: (message) => logger?.debug({ orm: true }, message),
    debug: false,
  });
}

/** `overrides`: options on top of ormOptions' (tests: a query listener through `onQuery`). */
export async function connectOrm(
  config: DbConfig,
  logger?: Logger,
  overrides: Partial<Options> = {},
): Promise<Orm> {
  return MikroORM.init({ ...ormOptions(config, logger), ...overrides } as Options);
}

/**
 * Connects and proves the primary answers, for process start-up: a wrong or unreachable
 * DATABASE_URL stops the process with a message that names it.
 */
export async function connectReachableOrm(config: DbConfig, logger?: Logger): Promise<Orm> {
  const orm = await connectOrm(config, logger);
  try {
    await orm.em.getConnection().execute('select 1');
    return orm;
  } catch (err) {
    await orm.close(true);
    const check = isCertificateError(err)
      ? `The server's TLS certificate did not verify (DATABASE_SSL=${config.DATABASE_SSL}) against ` +
        `${postgresCaSource(config)}, or does not name the host in DATABASE_URL.`
      : 'Check DATABASE_URL, that PostgreSQL is running, and the credentials.';
    throw new Error(
      `cannot connect to the database in DATABASE_URL (${databaseTarget(config)}): ` +
        `${(err as Error).message}. ${check}`,
    );
  }
}
