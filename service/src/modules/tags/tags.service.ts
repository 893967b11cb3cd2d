import { sql } from '@mikro-orm/postgresql';
import { ArticleTag } from '../articles/article.entity.js';
import { FeatureService } from '../feature-service.js';

/** Collaborators of the tags service: none yet. */
export type TagsDeps = Record<string, never>;

/**
 * Tags in use, trending first (the score the `recompute-trending-tags` job keeps: recent articles
 * and their favorites), then most used, then by name; public to every actor. A tag the job has
 * not scored yet still appears, ranked by its use.
 */
export class TagsService extends FeatureService<TagsDeps> {
  async popular(limit: number): Promise<string[]> {
    const rows = await this.em
      .createQueryBuilder(ArticleTag, 'at')
      .join('at.tag', 't')
      .select(['t.name'])
      .groupBy(['t.name', 't.trendingScore'])
      .orderBy([{ 't.trendingScore': 'desc' }, { [sql`count(*)`]: 'desc' }, { 't.name': 'asc' }])
      .limit(limit)
      .execute<{ name: string }[]>('all', false);
    return rows.map((r) => r.name);
  }
}
