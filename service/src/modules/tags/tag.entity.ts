import { defineEntity, p } from '@mikro-orm/core';

export const TagSchema = defineEntity({
  name: 'Tag',
  tableName: 'tags',
  properties: {
    id: p.integer().primary(),
    name: p.string().length(64).unique('tags_name_unique'),
    /**
     * Recent use, recomputed by the `recompute-trending-tags` job: articles tagged with it in the
     * last TRENDING_WINDOW_DAYS plus their favorites. `/api/tags` orders by it first.
     */
    trendingScore: p.integer().default(0),
  },
});

export class Tag extends TagSchema.class {}
TagSchema.setClass(Tag);
