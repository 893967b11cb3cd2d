import type { TestServer } from './server.js';

type Sql = Pick<TestServer, 'sql'>;

/** The tables whose rows an attack could change: every snapshot covers all of them. */
export const KEY_TABLES = [
  'users',
  'articles',
  'comments',
  'favorites',
  'follows',
  'tags',
  'article_tags',
  'audit_log',
  'settings',
];

/** Row count and an order-independent checksum of every row of every key table. */
export async function snapshot(server: Sql): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of KEY_TABLES) {
    const [row] = await server.sql<{ n: number; sum: string }>(
      `select count(*)::int as n, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as sum from ${table} t`,
    );
    out[table] = `${row!.n} rows, ${row!.sum}`;
  }
  return out;
}

/** Every row not owned by `userId` (tags excepted: a new tag is a legitimate side effect). */
export async function othersSnapshot(server: Sql, userId: number): Promise<Record<string, string>> {
  const owned: Record<string, string> = {
    users: 'id',
    articles: 'author_id',
    comments: 'author_id',
    favorites: 'user_id',
    follows: 'follower_id',
    audit_log: 'actor_id',
  };
  const out: Record<string, string> = {};
  for (const [table, column] of Object.entries(owned)) {
    const [row] = await server.sql<{ sum: string }>(
      `select count(*) || ':' || md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as sum from ${table} t where ${column} is distinct from ?`,
      [userId],
    );
    out[table] = row!.sum;
  }
  return out;
}

/** A user's id, role and a checksum of the whole row. */
export async function userRow(server: Sql, username: string) {
  const [row] = await server.sql<{ id: number; role: string; checksum: string }>(
    'select id, role, md5(u::text) as checksum from users u where username = ?',
    [username],
  );
  return row!;
}

/** A checksum of an article's row, or undefined when there is none with that slug. */
export async function articleChecksum(server: Sql, slug: string): Promise<string | undefined> {
  const [row] = await server.sql<{ checksum: string }>(
    'select md5(a::text) as checksum from articles a where slug = ?',
    [slug],
  );
  return row?.checksum;
}
