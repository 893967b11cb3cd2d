import type { ReadSource } from '../../db/read-source.js';
import type { CommentDto } from './comments.schemas.js';

/** The comments' read model (docs/read-path.md): one statement per list, rows mapped to DTOs. */

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
const COLUMNS =
  'c.id, c.body, c.author_id, ' +
  `to_char(c.created_at at time zone 'UTC', ${ISO}) as created_at, ` +
  `to_char(c.updated_at at time zone 'UTC', ${ISO}) as updated_at, ` +
  'u.username, u.bio, u.image';
const FOLLOWING =
  ', exists(select 1 from follows fo where fo.follower_id = ? and fo.followee_id = c.author_id) as following';
const REST =
  ' from comments c join users u on u.id = c.author_id where c.article_id = ? order by c.created_at asc, c.id asc limit ?';
const LIST_SQL = 'select ' + COLUMNS + REST;
const LIST_VIEWER_SQL = 'select ' + COLUMNS + FOLLOWING + REST;

interface CommentRow {
  id: number;
  body: string;
  author_id: number;
  created_at: string;
  updated_at: string;
  username: string;
  bio: string;
  image: string;
  following?: boolean;
}

/** A comment and its author's id (for a viewer's `following` overlay). */
export interface CommentItem {
  authorId: number;
  dto: CommentDto;
}

/** Up to `limit` comments of an article, oldest first; `following` is the viewer's (else false). */
export async function listComments(
  source: ReadSource,
  articleId: number,
  limit: number,
  viewerId?: number,
): Promise<CommentItem[]> {
  const rows =
    viewerId === undefined
      ? await source.all<CommentRow>(LIST_SQL, [articleId, limit])
      : await source.all<CommentRow>(LIST_VIEWER_SQL, [viewerId, articleId, limit]);
  return rows.map(toComment);
}

function toComment(r: CommentRow): CommentItem {
  return {
    authorId: r.author_id,
    dto: {
      id: r.id,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      body: r.body,
      author: {
        username: r.username,
        bio: r.bio,
        image: r.image,
        following: r.following === true,
      },
    },
  };
}

const MANY_SQL =
  'select * from (select ' +
  COLUMNS +
  ', c.article_id, row_number() over (partition by c.article_id order by c.created_at, c.id) as n' +
  ' from comments c join users u on u.id = c.author_id where c.article_id in (?)) ranked' +
  ' where n <= ? order by created_at asc, id asc';
const MANY_VIEWER_SQL =
  'select * from (select ' +
  COLUMNS +
  FOLLOWING +
  ', c.article_id, row_number() over (partition by c.article_id order by c.created_at, c.id) as n' +
  ' from comments c join users u on u.id = c.author_id where c.article_id in (?)) ranked' +
  ' where n <= ? order by created_at asc, id asc';

/**
 * The comments of several articles (one statement for all), up to `limit` each, oldest first,
 * keyed by article id: for entry points that batch per-item reads (GraphQL's loaders).
 */
export async function listCommentsOf(
  source: ReadSource,
  articleIds: readonly number[],
  limit: number,
  viewerId?: number,
): Promise<Map<number, CommentItem[]>> {
  const byArticle = new Map(articleIds.map((id) => [id, [] as CommentItem[]]));
  if (articleIds.length === 0) return byArticle;
  const rows =
    viewerId === undefined
      ? await source.all<CommentRow & { article_id: number }>(MANY_SQL, [[...articleIds], limit])
      : await source.all<CommentRow & { article_id: number }>(MANY_VIEWER_SQL, [
          viewerId,
          [...articleIds],
          limit,
        ]);
  for (const r of rows) byArticle.get(r.article_id)?.push(toComment(r));
  return byArticle;
}
