import type { ReadSource } from '../../db/read-source.js';
import { JsonText } from '../../json-text.js';
import { ISO } from '../articles/articles.read-model.js';
import type { NotificationDto } from './notifications.schemas.js';

/**
 * The notifications' read model (docs/read-path.md). The list is ONE statement that returns both
 * counts and the page already as JSON text, built by PostgreSQL in the DTO's shape: no rows to
 * map, no entities, nothing serialized again in Node. Notifications of an article that went back
 * to draft are hidden (drafts are private), and not counted.
 */

interface Row {
  id: string;
  created_at: string;
  read_at: string | null;
  slug: string;
  title: string;
  username: string;
  image: string;
}

/** The columns of one notification as the DTO needs them (`n`, `a`, `u`: notification, article, author). */
const COLUMNS =
  `n.id::text as id, to_char(n.created_at at time zone 'UTC', ${ISO}) as created_at, ` +
  `to_char(n.read_at at time zone 'UTC', ${ISO}) as read_at, a.slug, a.title, u.username, u.image`;

/** NotificationDto as JSON, from a row of COLUMNS (`p`); keys in the DTO's order. */
const DTO_JSON = `json_build_object('id', p.id::bigint, 'type', 'article-published',
  'createdAt', p.created_at, 'readAt', p.read_at,
  'article', json_build_object('slug', p.slug, 'title', p.title),
  'author', json_build_object('username', p.username, 'image', p.image))`;

const PAGE_SQL = `
  select c.total, c.unread, coalesce((
    select json_agg(${DTO_JSON} order by p.id::bigint desc)::text
    from (select ${COLUMNS}
          from notifications n
          join articles a on a.id = n.article_id and a.status = 'published'
          join users u on u.id = a.author_id
          where n.user_id = ?
          order by n.id desc limit ? offset ?) p), '[]') as items
  from (select count(*)::int as total, (count(*) filter (where n.read_at is null))::int as unread
        from notifications n join articles a on a.id = n.article_id and a.status = 'published'
        where n.user_id = ?) c`;

export function toNotificationDto(row: Row): NotificationDto {
  return {
    id: Number(row.id),
    type: 'article-published',
    createdAt: row.created_at,
    readAt: row.read_at,
    article: { slug: row.slug, title: row.title },
    author: { username: row.username, image: row.image },
  };
}

/** `userId`'s notifications, newest first (as JSON text), and how many there are (all, unread). */
export async function listNotifications(
  source: ReadSource,
  userId: number,
  page: { limit: number; offset: number },
): Promise<{ items: JsonText<NotificationDto[]>; count: number; unread: number }> {
  const [row] = await source.all<{ total: number; unread: number; items: string }>(PAGE_SQL, [
    userId,
    page.limit,
    page.offset,
    userId,
  ]);
  return { items: JsonText.trusted(row!.items), count: row!.total, unread: row!.unread };
}

/**
 * Marks one of `userId`'s notifications read (once: a second call keeps the first time) and
 * returns it; undefined when it is not theirs, does not exist, or its article is a draft now.
 */
export async function markRead(
  source: ReadSource,
  userId: number,
  id: number,
): Promise<NotificationDto | undefined> {
  const [row] = await source.all<Row>(
    `with n as (
       update notifications n set read_at = coalesce(n.read_at, now())
       from articles a
       where n.id = ? and n.user_id = ? and a.id = n.article_id and a.status = 'published'
       returning n.id, n.article_id, n.created_at, n.read_at)
     select ${COLUMNS}
     from n join articles a on a.id = n.article_id join users u on u.id = a.author_id`,
    [id, userId],
  );
  return row ? toNotificationDto(row) : undefined;
}
