/**
 * `npm run seed`: fills the database with deterministic demo data (50 users, 500 tagged
 * articles, 5,000 comments, follows, favorites) and prints the demo login. Works under any
 * NODE_ENV. All or nothing and idempotent: one transaction, skipped when the demo user exists.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  EntityManager,
  EntityName,
  MikroORM,
  RequiredEntityData,
} from '@mikro-orm/postgresql';
import { loadConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { runMain } from '../main-util.js';
import { Article, ArticleTag, Favorite } from '../modules/articles/article.entity.js';
import { Comment } from '../modules/comments/comment.entity.js';
import { Follow } from '../modules/profiles/follow.entity.js';
import { Tag } from '../modules/tags/tag.entity.js';
import { Passwords } from '../modules/users/passwords.js';
import { User } from '../modules/users/user.entity.js';
import { connectOrm } from './orm.js';
import { buildSeedPlan, DEMO_USER, type SeedPlanOptions } from './seed-data.js';

export { DEMO_USER };

export interface SeedOptions extends SeedPlanOptions {
  /** Hashes the shared demo password (once) with the configured argon2 parameters. */
  passwords: Passwords;
  /** Progress and result lines. @default no logging */
  logger?: Logger;
}

export interface SeedResult {
  /** True when the demo user already existed and nothing was written. */
  skipped: boolean;
  /** Rows written per table (all zero when skipped). */
  counts: Record<
    'users' | 'tags' | 'articles' | 'articleTags' | 'follows' | 'favorites' | 'comments',
    number
  >;
  durationMs: number;
}

/** Large enough to keep round trips few, small enough to stay far below the 65,535 bind limit. */
const CHUNK_ROWS = 1000;
/** Serialises concurrent seeds (two deploy hooks, two terminals): the second waits, then skips. */
const SEED_LOCK_KEY = 7_316_900_001;

async function insertChunked<T extends object>(
  em: EntityManager,
  entity: EntityName<T>,
  rows: RequiredEntityData<T>[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK_ROWS) {
    await em
      .createQueryBuilder(entity)
      .insert(rows.slice(i, i + CHUNK_ROWS))
      .execute('run');
  }
}

/** Writes the demo data set unless the demo user exists. */
export async function seed(orm: MikroORM, options: SeedOptions): Promise<SeedResult> {
  const started = performance.now();
  const counts: SeedResult['counts'] = {
    users: 0,
    tags: 0,
    articles: 0,
    articleTags: 0,
    follows: 0,
    favorites: 0,
    comments: 0,
  };
  const skipped = await orm.em.fork().transactional(async (em) => {
    await em.execute('select pg_advisory_xact_lock(?)', [SEED_LOCK_KEY]);
    if ((await em.count(User, { email: DEMO_USER.email })) > 0) return true;
    const plan = buildSeedPlan(options);

    // One hash for everyone: argon2 is deliberately slow, and 50 hashes would dominate the run.
    const passwordHash = await options.passwords.hash(DEMO_USER.password);
    await insertChunked(
      em,
      User,
      plan.users.map((u) => ({ ...u, passwordHash, updatedAt: u.createdAt })),
    );
    // Ids by natural key: em.insertMany returns only the first id for a multi-row insert here.
    const userRows = await em.find(
      User,
      { username: { $in: plan.users.map((u) => u.username) } },
      { fields: ['id', 'username'] },
    );
    const userIdOf = new Map(userRows.map((u) => [u.username, u.id]));
    const userIds = plan.users.map((u) => userIdOf.get(u.username)!);

    // Existing tags (from real use of a non-empty database) are reused, not duplicated.
    await em
      .createQueryBuilder(Tag)
      .insert(plan.tags.map((name) => ({ name })))
      .onConflict('name')
      .ignore()
      .execute('run');
    const tagRows = await em.find(Tag, { name: { $in: plan.tags } });
    const tagId = new Map(tagRows.map((t) => [t.name, t.id]));

    await insertChunked(
      em,
      Article,
      plan.articles.map(({ tags: _tags, author, ...a }) => ({ ...a, author: userIds[author]! })),
    );
    const articleRows = await em.find(
      Article,
      { slug: { $in: plan.articles.map((a) => a.slug) } },
      { fields: ['id', 'slug'] },
    );
    const articleIdOf = new Map(articleRows.map((a) => [a.slug, a.id]));
    const articleIds = plan.articles.map((a) => articleIdOf.get(a.slug)!);
    const articleTags = plan.articles.flatMap((a, i) =>
      a.tags.map((t) => ({ article: articleIds[i]!, tag: tagId.get(plan.tags[t]!)! })),
    );
    await insertChunked(em, ArticleTag, articleTags);
    await insertChunked(
      em,
      Follow,
      plan.follows.map((f) => ({
        follower: userIds[f.follower]!,
        followee: userIds[f.followee]!,
        createdAt: f.createdAt,
      })),
    );
    await insertChunked(
      em,
      Favorite,
      plan.favorites.map((f) => ({
        user: userIds[f.user]!,
        article: articleIds[f.article]!,
        createdAt: f.createdAt,
      })),
    );
    await insertChunked(
      em,
      Comment,
      plan.comments.map((c) => ({
        article: articleIds[c.article]!,
        author: userIds[c.author]!,
        body: c.body,
        createdAt: c.createdAt,
        updatedAt: c.createdAt,
      })),
    );
    Object.assign(counts, {
      users: userIds.length,
      tags: tagRows.length,
      articles: articleIds.length,
      articleTags: articleTags.length,
      follows: plan.follows.length,
      favorites: plan.favorites.length,
      comments: plan.comments.length,
    });
    return false;
  });
  const durationMs = Math.round(performance.now() - started);
  if (skipped) {
    options.logger?.info(
      { durationMs },
      `seed skipped: ${DEMO_USER.email} already exists, the database is already seeded`,
    );
  } else {
    options.logger?.info({ counts, durationMs }, 'seed complete');
  }
  return { skipped, counts, durationMs };
}

const isEntry =
  process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);

if (isEntry) {
  await runMain('seed', async (logger) => {
    const config = loadConfig();
    logger.level = config.LOG_LEVEL;
    const orm = await connectOrm(config, logger);
    try {
      await seed(orm, { passwords: new Passwords(config), logger });
      // In the message, not a field: the logger redacts `password` fields.
      logger.info(
        `demo login: email ${DEMO_USER.email} (username ${DEMO_USER.username}), ` +
          `password ${DEMO_USER.password}; every seeded user has this password`,
      );
    } finally {
      await orm.close(true);
    }
  });
}
