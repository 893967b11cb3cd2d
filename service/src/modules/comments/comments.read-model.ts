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
  return rows.map((r) => ({
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
  }));
}
