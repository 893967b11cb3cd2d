/**
 * `migrate` process: applies pending migrations to the primary database and exits; run once per
 * deploy, before the new service version takes traffic. Forward-only, one run at a time, and a
 * no-op on a database that is ahead of this image (a rollback): see migrator.ts.
 */
import { loadConfig } from '../config.js';
import { runMain } from '../main-util.js';
import { migrateForward } from './migrator.js';
import { connectOrm } from './orm.js';

await runMain('migrate', async (logger) => {
  const config = loadConfig();
  const orm = await connectOrm(config, logger);
  try {
    const { applied, ahead } = await migrateForward(orm, logger);
    logger.info(
      { applied, ahead },
      ahead.length > 0
        ? 'database is ahead of this image: nothing applied'
        : `applied ${applied.length} migration(s)`,
    );
  } finally {
    await orm.close(true);
  }
});
