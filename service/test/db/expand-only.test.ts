// The rule that makes rolling deploys and rollbacks safe (docs/operations.md, "Migrations"): a
// release's migrations only expand the schema, so the previous release's code runs on it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MikroORM } from '@mikro-orm/postgresql';
import { migrations } from '../../src/db/migrations/index.js';
import { ormOptions } from '../../src/db/orm.js';

/**
 * Migrations allowed to contract the schema, each with the reason it is safe: the previous release
 * no longer uses what is dropped or renamed (it was expanded-and-migrated away from a release
 * earlier). Empty today; an entry needs a reviewer's agreement.
 */
const CONTRACTING: Record<string, string> = {};

/** What old code cannot survive, with why. */
const CONTRACTIONS: [RegExp, string][] = [
  [/\bdrop\s+table\b/, 'drops a table'],
  [/\balter\s+table\s+\S+\s+drop\s+(column\s+)?(if\s+exists\s+)?"/, 'drops a column'],
  [/\brename\b/, 'renames a table or column'],
  [/\balter\s+column\s+\S+\s+(set\s+data\s+)?type\b/, "changes a column's type"],
  [/\bset\s+not\s+null\b/, 'makes an existing column NOT NULL'],
  [/\bdrop\s+default\b/, "drops a column's default"],
];

let orm: MikroORM;
beforeAll(async () => {
  // Rendering a migration's SQL needs the driver and configuration, not a connection.
  orm = await MikroORM.init(
    ormOptions({
      DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused',
      DATABASE_SSL: 'disable',
      DATABASE_POOL_MAX: 1,
    }),
  );
});
afterAll(async () => {
  await orm.close(true);
});

async function upSql(entry: (typeof migrations)[number]): Promise<string[]> {
  const migration = new entry.class(orm.driver, orm.config);
  await migration.up();
  return migration.getQueries().map((q) => String(q).toLowerCase().replace(/\s+/g, ' '));
}

/** Violations of the expand-only rule in a list of statements. */
function contractions(statements: string[]): string[] {
  const found: string[] = [];
  for (const sql of statements) {
    for (const [pattern, why] of CONTRACTIONS) if (pattern.test(sql)) found.push(`${why}: ${sql}`);
    // A new NOT NULL column without a default breaks the previous release's inserts.
    if (/\badd\s+(column\s+)?"[^"]+"[^,;]*\bnot\s+null\b/.test(sql) && !/\bdefault\b/.test(sql)) {
      if (!/^create table/.test(sql))
        found.push(`adds a NOT NULL column without a default: ${sql}`);
    }
  }
  return found;
}

describe('migrations only expand', () => {
  it('are listed in the order they were created, so a release only appends', () => {
    const names = migrations.map((m) => m.name);
    expect(names).toEqual([...names].sort());
  });

  it.each(migrations.map((m) => [m.name, m] as const))(
    '%s drops, renames and narrows nothing the previous release uses',
    async (name, entry) => {
      const found = await upSql(entry);
      expect(CONTRACTING[name] ? [] : contractions(found)).toEqual([]);
    },
  );

  it('recognises contractions (the checker itself)', () => {
    expect(
      contractions([
        'alter table "users" drop column "bio";',
        'alter table "users" rename column "bio" to "about";',
        'alter table "users" add column "tier" text not null;',
        'alter table "users" alter column "bio" type varchar(10);',
        'alter table "users" alter column "bio" set not null;',
        'drop table if exists "tags" cascade;',
      ]),
    ).toHaveLength(6);
    expect(
      contractions([
        'alter table "articles" add "status" text not null default \'published\';',
        'alter table "tags" add column "note" text null;',
        'create table "t" ("id" serial primary key, "name" text not null);',
        'drop index "articles_created_at_id_idx";',
        'alter table "articles" drop constraint "articles_status_check";',
      ]),
    ).toEqual([]);
  });
});
