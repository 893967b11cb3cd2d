import { defineEntity, p } from '@mikro-orm/core';
import { Article } from '../articles/article.entity.js';
import { User } from '../users/user.entity.js';

export const CommentSchema = defineEntity({
  name: 'Comment',
  tableName: 'comments',
  properties: {
    id: p.integer().primary(),
    body: p.text(),
    article: () =>
      p.manyToOne(Article).deleteRule('cascade').foreignKeyName('comments_article_id_foreign'),
    author: () =>
      p
        .manyToOne(User)
        .deleteRule('cascade')
        .index('comments_author_idx')
        .foreignKeyName('comments_author_id_foreign'),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  indexes: [{ name: 'comments_article_created_at_idx', properties: ['article', 'createdAt'] }],
});

export class Comment extends CommentSchema.class {}
CommentSchema.setClass(Comment);
