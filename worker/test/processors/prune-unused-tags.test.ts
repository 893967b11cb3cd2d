import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { ReadCache } from '../../../service/src/cache.js';
import { connectOrm } from '../../../service/src/db/orm.js';
import { primaryRouter } from '../../../service/src/db/read-source.js';
import { defineAbilityFor } from '../../../service/src/modules/auth/abilities.js';
import { ArticlesService } from '../../../service/src/modules/articles/articles.service.js';
import { Tag } from '../../../service/src/modules/tags/tag.entity.js';
import { User } from '../../../service/src/modules/users/user.entity.js';
import { createTestDatabase, type TestDatabase } from '../../../service/test/support/database.js';
import { pruneUnusedTags } from '../../src/processors/prune-unused-tags.js';

let db: TestDatabase;
let orm: MikroORM;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await connectOrm({ DATABASE_URL: db.url, DATABASE_SSL: 'disable', DATABASE_POOL_MAX: 2 });
});
afterAll(async () => {
  await orm?.close(true);
  await db?.drop();
});

const tagNames = async (em: EntityManager) =>
  (await em.fork().find(Tag, {}, { orderBy: { name: 'asc' } })).map((t) => t.name);

describe('prune-unused-tags', () => {
  it('when an article is deleted, then only the tags no other article uses are removed, and a second run changes nothing', async () => {
    const em = orm.em.fork();
    const author = em.create(User, {
      username: 'pruner',
      email: 'pruner@example.com',
      passwordHash: 'not-a-real-hash',
    });
    await em.flush();
    const articles = new ArticlesService(
      em,
      { user: author, ability: defineAbilityFor(author, { writeFreeze: false }) },
      { readRouter: primaryRouter, cache: ReadCache.off() },
    );
    const gone = await articles.create({
      title: 'Going away',
      description: 'd',
      body: 'b',
      tagList: ['only-on-deleted', 'shared'],
    });
    await articles.create({
      title: 'Staying',
      description: 'd',
      body: 'b',
      tagList: ['shared', 'only-on-kept'],
    });
    await em.insert(Tag, { name: 'never-used' });
    await articles.delete(gone.slug);

    expect(await pruneUnusedTags(orm.em.fork())).toBe(2);
    expect(await tagNames(orm.em)).toEqual(['only-on-kept', 'shared']);

    expect(await pruneUnusedTags(orm.em.fork())).toBe(0);
    expect(await tagNames(orm.em)).toEqual(['only-on-kept', 'shared']);
  });
});
