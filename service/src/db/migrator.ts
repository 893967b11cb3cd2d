/**
 * Forward-only migrations that make deploy, rollback and re-deploy safe (docs/operations.md,
 * "Migrations"):
 *  - one run at a time: a transaction-scoped PostgreSQL advisory lock, so a second runner (the
 *    next deploy's, or a rollback's while a long migration is still going) waits and then finds
 *    nothing left to do;
 *  - a database that is ahead is not an error: the previous release's image (run by a
 *    CloudFormation rollback) sees migrations it does not know, applies nothing and exits 0 —
 *    expand-only migrations keep its code working on the newer schema;
 *  - never down: nothing here reverts a migration.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '../logger.js';

/** Advisory lock key of the migration run ("plinth" in ASCII); any constant works if it is shared. */
export const MIGRATION_LOCK_KEY = 0x706c696e7468;

/** What a run did. */
export interface MigrationRun {
  /** Migrations applied by this run, in order. */
  readonly applied: string[];
  /** Migrations the database has that this image does not know (it is older than the schema). */
  readonly ahead: string[];
}

/** Applies this image's pending migrations, unless the database is ahead of it. */
export async function migrateForward(orm: MikroORM, logger: Logger): Promise<MigrationRun> {
  const known = new Set((orm.config.get('migrations').migrationsList ?? []).map((m) => m.name));
  const connection = orm.em.getConnection();
  return connection.transactional(async (trx) => {
    const [row] = await connection.execute<{ locked: boolean }[]>(
      'select pg_try_advisory_xact_lock(?) as locked',
      [MIGRATION_LOCK_KEY],
      'all',
      trx,
    );
    if (!row?.locked) {
      logger.info('another migration run holds the lock; waiting for it to finish');
      await connection.execute('select pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY], 'all', trx);
    }
    // Read after taking the lock: a run that held it has committed, so its migrations show.
    const executed = (await orm.migrator.getExecuted()).map((m) => m.name);
    const ahead = executed.filter((name) => !known.has(name));
    if (ahead.length > 0) {
      const missing = [...known].filter((name) => !executed.includes(name));
      if (missing.length > 0) {
        throw new Error(
          `the database has migrations this image does not know (${ahead.join(', ')}) and lacks ` +
            `ones it does (${missing.join(', ')}): the histories diverged; deploy a release that ` +
            'contains both',
        );
      }
      logger.warn(
        { ahead },
        `the database is ${ahead.length} migration(s) ahead of this image (a rollback or an ` +
          'older release): applying nothing',
      );
      return { applied: [], ahead };
    }
    const applied = await orm.migrator.up({ transaction: trx });
    return { applied: applied.map((m) => m.name), ahead: [] };
  });
}
