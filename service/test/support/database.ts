import { dropDatabase, ensureDatabase } from '../../src/db/admin.js';
import { connectOrm } from '../../src/db/orm.js';
import { TEST_DATABASE_URL, uniqueName } from './env.js';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh database, migrated to the latest schema, private to the calling test file. */
export async function createTestDatabase(
  options: {
    migrate?: boolean;
    /** A URL of the server to create it on (e.g. a private store's). @default TEST_DATABASE_URL */
    serverUrl?: string;
  } = {},
): Promise<TestDatabase> {
  const url = new URL(options.serverUrl ?? TEST_DATABASE_URL);
  url.pathname = `/${uniqueName('plinth_test')}`;
  const dbUrl = url.toString();
  await ensureDatabase(dbUrl);
  if (options.migrate !== false) {
    const orm = await connectOrm({
      DATABASE_URL: dbUrl,
      DATABASE_SSL: 'disable',
      DATABASE_POOL_MAX: 2,
    });
    try {
      await orm.migrator.up();
    } finally {
      await orm.close(true);
    }
  }
  return { url: dbUrl, drop: () => dropDatabase(dbUrl) };
}
