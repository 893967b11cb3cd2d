import { defineEntity, p } from '@mikro-orm/core';

export const TagSchema = defineEntity({
  name: 'Tag',
  tableName: 'tags',
  properties: {
    id: p.integer().primary(),
    name: p.string().length(64).unique('tags_name_unique'),
  },
});

export class Tag extends TagSchema.class {}
TagSchema.setClass(Tag);
