import { sql, type EntityManager } from '@mikro-orm/postgresql';
import { ArticleTag } from '../articles/article.entity.js';

/** Tags in use, most used first (ties by name). */
export class TagsService {
  constructor(private readonly em: EntityManager) {}

  async popular(limit: number): Promise<string[]> {
    const rows = await this.em
      .createQueryBuilder(ArticleTag, 'at')
      .join('at.tag', 't')
      .select(['t.name'])
      .groupBy('t.name')
      .orderBy([{ [sql`count(*)`]: 'desc' }, { 't.name': 'asc' }])
      .limit(limit)
      .execute<{ name: string }[]>('all', false);
    return rows.map((r) => r.name);
  }
}
