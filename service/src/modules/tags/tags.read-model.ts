import type { ReadSource } from '../../db/read-source.js';

/** The tags' read model (docs/read-path.md): one statement. */

const POPULAR_SQL =
  'select t.name from article_tags at join tags t on t.id = at.tag_id group by t.name order by count(*) desc, t.name asc limit ?';

/** Tags in use, most used first (ties by name). */
export async function popularTags(source: ReadSource, limit: number): Promise<string[]> {
  const rows = await source.all<{ name: string }>(POPULAR_SQL, [limit]);
  return rows.map((r) => r.name);
}
