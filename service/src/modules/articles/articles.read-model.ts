import type { ReadSource } from '../../db/read-source.js';
import type { ArticleStatus } from './article.entity.js';
import type { ArticleListItemDto } from './articles.schemas.js';

/**
 * The articles' read model (docs/read-path.md): list pages, the feed and single articles as a
 * fixed number of parameterized statements on a ReadSource, rows mapped straight to DTOs.
 * SQL here is assembled from constant fragments only; every value is a `?` parameter.
 */

/** What a list page selects; every field optional but the page. */
export interface ListCriteria {
  status: ArticleStatus;
  /** Only articles by this author id (drafts of a viewer who may not read others'). */
  authorId?: number;
  tag?: string;
  author?: string;
  favorited?: string;
  /** Only articles by users this user id follows (the feed). */
  followedBy?: number;
  limit: number;
  offset: number;
}

/** An article row as the read model selects it, before mapping. */
interface ArticleRow {
  id: number;
  slug: string;
  title: string;
  description: string;
  status: ArticleStatus;
  created_at: string;
  updated_at: string;
  favorites_count: number;
  author_id: number;
  username: string;
  bio: string;
  image: string;
  tags: string[];
  favorited?: boolean;
  following?: boolean;
}

/** A single article's row: the list fields and the body with its stored rendering. */
export interface ArticleDetailRow extends ArticleRow {
  body: string;
  body_html: string | null;
  body_html_version: number | null;
}

/** A list item and the ids a viewer's overlay needs. */
export interface ArticleItem {
  id: number;
  authorId: number;
  dto: ArticleListItemDto;
}

/** to_char() format of a UTC timestamp as the API writes it (`2026-11-30T12:00:00.000Z`). */
export const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
const COLUMNS =
  'a.id, a.slug, a.title, a.description, a.status, a.favorites_count, a.author_id, ' +
  `to_char(a.created_at at time zone 'UTC', ${ISO}) as created_at, ` +
  `to_char(a.updated_at at time zone 'UTC', ${ISO}) as updated_at, ` +
  'u.username, u.bio, u.image, ' +
  "(select coalesce(json_agg(t.name), '[]'::json) from article_tags at join tags t on t.id = at.tag_id where at.article_id = a.id) as tags";
/** The viewer's flags; two parameters: the viewer's id twice. */
const VIEWER_COLUMNS =
  ', exists(select 1 from favorites f where f.user_id = ? and f.article_id = a.id) as favorited' +
  ', exists(select 1 from follows fo where fo.follower_id = ? and fo.followee_id = a.author_id) as following';
const FROM = ' from articles a join users u on u.id = a.author_id';

/** The WHERE clause of a list and its parameters, in order. */
function where(c: ListCriteria): { sql: string; params: unknown[] } {
  const conditions = ['a.status = ?'];
  const params: unknown[] = [c.status];
  if (c.authorId !== undefined) {
    conditions.push('a.author_id = ?');
    params.push(c.authorId);
  }
  if (c.author !== undefined) {
    conditions.push('a.author_id in (select id from users where username = ?)');
    params.push(c.author);
  }
  if (c.tag !== undefined) {
    conditions.push(
      'a.id in (select at.article_id from article_tags at join tags t on t.id = at.tag_id where t.name = ?)',
    );
    params.push(c.tag);
  }
  if (c.favorited !== undefined) {
    conditions.push(
      'a.id in (select f.article_id from favorites f join users fu on fu.id = f.user_id where fu.username = ?)',
    );
    params.push(c.favorited);
  }
  if (c.followedBy !== undefined) {
    conditions.push('a.author_id in (select followee_id from follows where follower_id = ?)');
    params.push(c.followedBy);
  }
  return { sql: ` where ${conditions.join(' and ')}`, params };
}

const tagsSorted = (tags: string[]) => [...tags].sort();

function toItem(row: ArticleRow): ArticleItem {
  return {
    id: row.id,
    authorId: row.author_id,
    dto: {
      slug: row.slug,
      title: row.title,
      description: row.description,
      status: row.status,
      tagList: tagsSorted(row.tags),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      favorited: row.favorited === true,
      favoritesCount: row.favorites_count,
      author: {
        username: row.username,
        bio: row.bio,
        image: row.image,
        following: row.following === true,
      },
    },
  };
}

/**
 * One page of articles, newest first, and the number matching: two statements whatever the page
 * size. With `viewerId`, `favorited` and `following` are the viewer's; without, false.
 */
export async function listArticles(
  source: ReadSource,
  criteria: ListCriteria,
  viewerId?: number,
): Promise<{ items: ArticleItem[]; count: number }> {
  const w = where(criteria);
  const countSql = `select count(*)::int as count from articles a${w.sql}`;
  const pageSql =
    'select ' +
    COLUMNS +
    (viewerId === undefined ? '' : VIEWER_COLUMNS) +
    FROM +
    w.sql +
    ' order by a.created_at desc, a.id desc limit ? offset ?';
  const pageParams = [
    ...(viewerId === undefined ? [] : [viewerId, viewerId]),
    ...w.params,
    criteria.limit,
    criteria.offset,
  ];
  const [counted, rows] = await Promise.all([
    source.all<{ count: number }>(countSql, w.params),
    source.all<ArticleRow>(pageSql, pageParams),
  ]);
  return { items: rows.map(toItem), count: counted[0]?.count ?? 0 };
}

const DETAIL_SQL =
  'select ' + COLUMNS + ', a.body, a.body_html, a.body_html_version' + FROM + ' where a.slug = ?';
const DETAIL_VIEWER_SQL =
  'select ' +
  COLUMNS +
  VIEWER_COLUMNS +
  ', a.body, a.body_html, a.body_html_version' +
  FROM +
  ' where a.slug = ?';

/** One article by slug with its body and stored rendering (one statement), or undefined. */
export async function articleBySlug(
  source: ReadSource,
  slug: string,
  viewerId?: number,
): Promise<{ item: ArticleItem; row: ArticleDetailRow } | undefined> {
  const rows =
    viewerId === undefined
      ? await source.all<ArticleDetailRow>(DETAIL_SQL, [slug])
      : await source.all<ArticleDetailRow>(DETAIL_VIEWER_SQL, [viewerId, viewerId, slug]);
  const row = rows[0];
  return row ? { item: toItem(row), row } : undefined;
}

const DETAILS_SQL =
  'select ' +
  COLUMNS +
  ', a.body, a.body_html, a.body_html_version' +
  FROM +
  ' where a.slug in (?)';
const DETAILS_VIEWER_SQL =
  'select ' +
  COLUMNS +
  VIEWER_COLUMNS +
  ', a.body, a.body_html, a.body_html_version' +
  FROM +
  ' where a.slug in (?)';

/**
 * Several articles by slug, as `articleBySlug` has each (one statement for all): for entry points
 * that batch per-item reads (GraphQL's loaders). Unknown slugs are absent.
 */
export async function articlesBySlugs(
  source: ReadSource,
  slugs: readonly string[],
  viewerId?: number,
): Promise<{ item: ArticleItem; row: ArticleDetailRow }[]> {
  if (slugs.length === 0) return [];
  const unique = [...new Set(slugs)];
  const rows =
    viewerId === undefined
      ? await source.all<ArticleDetailRow>(DETAILS_SQL, [unique])
      : await source.all<ArticleDetailRow>(DETAILS_VIEWER_SQL, [viewerId, viewerId, unique]);
  return rows.map((row) => ({ item: toItem(row), row }));
}

const OVERLAY_SQL =
  "select 'f' as kind, article_id as id from favorites where user_id = ? and article_id in (?) " +
  "union all select 'u' as kind, followee_id as id from follows where follower_id = ? and followee_id in (?)";

/**
 * The viewer's flags among some articles and authors (one indexed statement): which of
 * `articleIds` they favorited and which of `authorIds` they follow.
 */
export async function viewerFlags(
  source: ReadSource,
  viewerId: number,
  articleIds: number[],
  authorIds: number[],
): Promise<{ favorited: Set<number>; following: Set<number> }> {
  const favorited = new Set<number>();
  const following = new Set<number>();
  if (articleIds.length === 0 && authorIds.length === 0) return { favorited, following };
  // `in (?)` with an empty list is invalid SQL: 0 is never an id.
  const rows = await source.all<{ kind: 'f' | 'u'; id: number }>(OVERLAY_SQL, [
    viewerId,
    articleIds.length ? articleIds : [0],
    viewerId,
    authorIds.length ? [...new Set(authorIds)] : [0],
  ]);
  for (const r of rows) (r.kind === 'f' ? favorited : following).add(r.id);
  return { favorited, following };
}

const FACTS_SQL = 'select id, author_id, status from articles where slug = ?';

/** What deciding an article's visibility needs (one statement), or undefined. */
export async function articleFacts(
  source: ReadSource,
  slug: string,
): Promise<{ id: number; authorId: number; status: ArticleStatus } | undefined> {
  const rows = await source.all<{ id: number; author_id: number; status: ArticleStatus }>(
    FACTS_SQL,
    [slug],
  );
  const r = rows[0];
  return r ? { id: r.id, authorId: r.author_id, status: r.status } : undefined;
}
