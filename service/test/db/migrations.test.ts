import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FOREIGN_KEYS } from '../../src/db/errors.js';
import { connectOrm, type Orm } from '../../src/db/orm.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let orm: Orm;
/** The migrations that ran on the empty database, before any test. */
let applied: unknown[];
beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  orm = await connectOrm({ DATABASE_URL: db.url, DATABASE_SSL: 'disable', DATABASE_POOL_MAX: 2 });
  applied = await orm.migrator.up();
});
afterAll(async () => {
  await orm.close(true);
  await db.drop();
});

describe('migrations', () => {
  it('when applied to an empty database, then all run and none stay pending', async () => {
    expect(applied.length).toBeGreaterThan(0);
    expect(await orm.migrator.getPending()).toEqual([]);
  });

  it('when the entities and the committed migrations are compared, then they agree (no drift)', async () => {
    // Fails when an entity changed without `npm run migration:create`.
    const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false });
    expect(diff.trim()).toBe('');
  });

  it('when migrating again, then nothing happens', async () => {
    expect(await orm.migrator.up()).toEqual([]);
  });

  it('when the list and filter queries run, then each has an index to use', async () => {
    const rows = await orm.em
      .fork()
      .getConnection()
      .execute(`select indexname from pg_indexes where schemaname = 'public'`);
    const names = rows.map((r) => String(r.indexname));
    expect(names).toEqual(
      expect.arrayContaining([
        'articles_status_created_at_id_idx',
        'articles_author_created_at_idx',
        'article_tags_tag_idx',
        'favorites_article_idx',
        'follows_followee_idx',
        'comments_article_created_at_idx',
        'articles_slug_unique',
        'users_email_unique',
        'users_username_unique',
        'tags_name_unique',
      ]),
    );
  });

  it('when a foreign key is violated, then the entities name it, so the answer is a 404 naming the relation', async () => {
    const rows = await orm.em
      .fork()
      .getConnection()
      .execute(`select conname from pg_constraint where contype = 'f' order by conname`);
    expect(rows.map((r) => String(r.conname)).sort()).toEqual([...FOREIGN_KEYS.keys()].sort());
    expect(FOREIGN_KEYS.get('favorites_article_id_foreign')).toBe('article');
  });
});
