// Deploy, rollback and re-deploy against a real PostgreSQL: forward-only runs, one at a time, and
// the previous image's run on a database that is ahead of it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Migration } from '@mikro-orm/migrations';
import { MikroORM } from '@mikro-orm/postgresql';
import { migrateForward } from '../../src/db/migrator.js';
import { migrations } from '../../src/db/migrations/index.js';
import { ormOptions } from '../../src/db/orm.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/** The next release's migration: expand-only, like every release's. */
class Migration29990101000000_next_release extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "tags" add column "note" text null;`);
  }
}
const nextRelease = [
  ...migrations,
  { name: 'Migration29990101000000_next_release', class: Migration29990101000000_next_release },
];

const logger = createLogger({ level: 'silent' });
const opened: MikroORM[] = [];
async function release(url: string, list: typeof migrations): Promise<MikroORM> {
  const base = ormOptions({ DATABASE_URL: url, DATABASE_SSL: 'disable', DATABASE_POOL_MAX: 3 });
  const orm = await MikroORM.init({
    ...base,
    migrations: { ...base.migrations, migrationsList: list },
  });
  opened.push(orm);
  return orm;
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
});
afterAll(async () => {
  await Promise.all(opened.map((orm) => orm.close(true)));
  await db.drop();
});

describe('forward-only migrations', () => {
  it('when two runs start at once, then one applies everything and the other waits and applies nothing', async () => {
    const [a, b] = await Promise.all([release(db.url, migrations), release(db.url, migrations)]);
    const runs = await Promise.all([migrateForward(a, logger), migrateForward(b, logger)]);
    const applied = runs.map((r) => r.applied.length).sort();
    expect(applied).toEqual([0, migrations.length]);
  });

  it('when the next release deploys, then only its new migration runs', async () => {
    const next = await release(db.url, nextRelease);
    expect(await migrateForward(next, logger)).toEqual({
      applied: ['Migration29990101000000_next_release'],
      ahead: [],
    });
  });

  it('when a rollback runs the previous image on the newer schema, then it applies nothing and does not fail', async () => {
    const previous = await release(db.url, migrations);
    expect(await migrateForward(previous, logger)).toEqual({
      applied: [],
      ahead: ['Migration29990101000000_next_release'],
    });
    // The previous release's code still works on the expanded schema.
    const rows = await previous.em.fork().getConnection().execute(`select count(*) from "tags"`);
    expect(rows).toHaveLength(1);
  });

  it('when the histories diverged (an unknown migration and a missing known one), then it refuses', async () => {
    const diverged = await release(db.url, [
      ...migrations,
      { name: 'Migration29990101000001_other_branch', class: Migration29990101000000_next_release },
    ]);
    await expect(migrateForward(diverged, logger)).rejects.toThrow(/histories diverged/);
  });
});
