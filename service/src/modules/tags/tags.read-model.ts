import type { ReadSource } from '../../db/read-source.js';

/** The tags' read model (docs/read-path.md): one statement. */

const POPULAR_SQL =
  'select t.name from article_tags at join tags t on t.id = at.tag_id group by t.name, t.trending_score order by t.trending_score desc, count(*) desc, t.name asc limit ?';

/** Tags in use, trending first (the worker's recompute-trending-tags job), then most used, then by name. */
export async function popularTags(source: ReadSource, limit: number): Promise<string[]> {
  const rows = await source.all<{ name: string }>(POPULAR_SQL, [limit]);
  return rows.map((r) => r.name);
}
