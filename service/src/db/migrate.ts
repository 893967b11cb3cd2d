/**
 * `migrate` process: applies pending migrations to the primary database and exits.
 * Run once per deploy, before the new service version takes traffic.
 */
import { loadConfig } from '../config.js';
import { runMain } from '../main-util.js';
import { connectOrm } from './orm.js';

await runMain('migrate', async (logger) => {
  const config = loadConfig();
  const orm = await connectOrm(config, logger);
  try {
    const applied = await orm.migrator.up();
    logger.info({ applied: applied.map((m) => m.name) }, `applied ${applied.length} migration(s)`);
  } finally {
    await orm.close(true);
  }
});
