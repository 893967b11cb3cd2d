import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * One part of a user's data export: a JSON member of the file (`"articles": [...]`), read from
 * PostgreSQL a page at a time in a stable keyset order, so a user with a lot of data never means
 * a big query or everything in memory. A new kind of user data is one more entry in
 * EXPORT_SECTIONS (keysetSection with its count and page queries).
 */
export interface ExportSection {
  /** The member's name in the file. */
  name: string;
  /** `object`: one row written as an object (the profile); `list`: an array of rows. */
  shape: 'object' | 'list';
  /** Rows the section will write, for progress (an estimate is fine: progress is capped). */
  count(em: EntityManager, userId: number): Promise<number>;
  /** The page after `cursor` (0: the first), at most `limit` rows, and the cursor after it. */
  page(
    em: EntityManager,
    userId: number,
    cursor: number,
    limit: number,
  ): Promise<{ rows: Record<string, unknown>[]; next: number }>;
}

/**
 * A section read by keyset pagination on one integer column. `pageSql` takes three parameters
 * (user id, the cursor, the page size), returns rows ordered by `cursor` ascending that all
 * belong to the user, and selects `cursor` under that name; `countSql` takes the user id and
 * returns `n`.
 */
export function keysetSection(def: {
  name: string;
  shape?: 'object' | 'list';
  countSql: string;
  pageSql: string;
  cursor: string;
}): ExportSection {
  return {
    name: def.name,
    shape: def.shape ?? 'list',
    async count(em, userId) {
      const [row] = await em.execute<{ n: number }[]>(def.countSql, [userId]);
      return Number(row?.n ?? 0);
    },
    async page(em, userId, cursor, limit) {
      const rows = await em.execute<Record<string, unknown>[]>(def.pageSql, [
        userId,
        cursor,
        limit,
      ]);
      const last = rows.at(-1);
      return { rows, next: last ? Number(last[def.cursor]) : cursor };
    },
  };
}

/** Everything a user's export holds, in file order. */
export const EXPORT_SECTIONS: ExportSection[] = [
  keysetSection({
    name: 'profile',
    shape: 'object',
    countSql: 'select count(*)::int as n from users where id = ?',
    pageSql: `select id, username, email, bio, image, role, created_at as "createdAt",
                updated_at as "updatedAt"
              from users where id = ? and id > ? order by id limit ?`,
    cursor: 'id',
  }),
  keysetSection({
    name: 'articles',
    countSql: 'select count(*)::int as n from articles where author_id = ?',
    pageSql: `select a.id, a.slug, a.title, a.description, a.body, a.status,
                coalesce((select array_agg(t.name order by t.name) from article_tags at
                          join tags t on t.id = at.tag_id where at.article_id = a.id),
                         '{}') as "tagList",
                a.favorites_count as "favoritesCount", a.created_at as "createdAt",
                a.updated_at as "updatedAt"
              from articles a where a.author_id = ? and a.id > ? order by a.id limit ?`,
    cursor: 'id',
  }),
  keysetSection({
    name: 'comments',
    countSql: 'select count(*)::int as n from comments where author_id = ?',
    pageSql: `select c.id, c.body, a.slug as "articleSlug", c.created_at as "createdAt",
                c.updated_at as "updatedAt"
              from comments c join articles a on a.id = c.article_id
              where c.author_id = ? and c.id > ? order by c.id limit ?`,
    cursor: 'id',
  }),
  keysetSection({
    name: 'favorites',
    countSql: 'select count(*)::int as n from favorites where user_id = ?',
    pageSql: `select f.article_id as "articleId", a.slug as "articleSlug",
                a.title as "articleTitle", f.created_at as "favoritedAt"
              from favorites f join articles a on a.id = f.article_id
              where f.user_id = ? and f.article_id > ? order by f.article_id limit ?`,
    cursor: 'articleId',
  }),
  keysetSection({
    name: 'following',
    countSql: 'select count(*)::int as n from follows where follower_id = ?',
    pageSql: `select f.followee_id as "userId", u.username, f.created_at as "followedAt"
              from follows f join users u on u.id = f.followee_id
              where f.follower_id = ? and f.followee_id > ? order by f.followee_id limit ?`,
    cursor: 'userId',
  }),
  keysetSection({
    name: 'notifications',
    countSql: 'select count(*)::int as n from notifications where user_id = ?',
    pageSql: `select n.id, a.slug as "articleSlug", a.title as "articleTitle",
                u.username as "author", n.created_at as "createdAt", n.read_at as "readAt"
              from notifications n join articles a on a.id = n.article_id
              join users u on u.id = a.author_id
              where n.user_id = ? and n.id > ? order by n.id limit ?`,
    cursor: 'id',
  }),
  keysetSection({
    name: 'notificationSettings',
    shape: 'object',
    countSql: 'select count(*)::int as n from notification_settings where user_id = ?',
    pageSql: `select user_id as "userId", digest, updated_at as "updatedAt"
              from notification_settings where user_id = ? and user_id > ? order by user_id limit ?`,
    cursor: 'userId',
  }),
];
