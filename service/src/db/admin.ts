import { MikroORM } from '@mikro-orm/postgresql';

const DB_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Connects to the server's maintenance database (`postgres`) for CREATE/DROP DATABASE. */
async function withMaintenance<T>(url: string, fn: (orm: MikroORM) => Promise<T>): Promise<T> {
  const u = new URL(url);
  u.pathname = '/postgres';
  const orm = await MikroORM.init({
    clientUrl: u.toString(),
    entities: [],
    discovery: { warnWhenNoEntities: false },
    allowGlobalContext: true,
    ensureDatabase: false,
  });
  try {
    return await fn(orm);
  } finally {
    await orm.close(true);
  }
}

/** The database named by a PostgreSQL URL, checked to be a plain identifier. */
export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!DB_NAME.test(name)) {
    throw new Error(
      `database name "${name}" must match ${DB_NAME} (lower-case letters, digits, _)`,
    );
  }
  return name;
}

/** Creates the database named in `url` unless it exists. Returns true when it was created. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  return withMaintenance(url, async (orm) => {
    const conn = orm.em.getConnection();
    const rows = await conn.execute('select 1 from pg_database where datname = ?', [name]);
    if (rows.length > 0) return false;
    // Identifiers cannot be bound as parameters; `name` is checked against DB_NAME above.
    // eslint-disable-next-line no-restricted-syntax -- validated identifier, quoted by the platform
    await conn.execute(`create database ${orm.em.getPlatform().quoteIdentifier(name)}`);
    return true;
  });
}

/** Drops the database named in `url`, closing other sessions first. */
export async function dropDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  await withMaintenance(url, async (orm) => {
    await orm.em
      .getConnection()
      .execute(
        'select pg_terminate_backend(pid) from pg_stat_activity where datname = ? and pid <> pg_backend_pid()',
        [name],
      );
    const quoted = orm.em.getPlatform().quoteIdentifier(name);
    // eslint-disable-next-line no-restricted-syntax -- validated identifier, quoted by the platform
    await orm.em.getConnection().execute(`drop database if exists ${quoted}`);
  });
}
