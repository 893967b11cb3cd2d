import { defineEntity, p } from '@mikro-orm/core';

export const ARTICLE_STATUSES = ['draft', 'published'] as const;
export type ArticleStatus = (typeof ARTICLE_STATUSES)[number];
import { Tag } from '../tags/tag.entity.js';
import { User } from '../users/user.entity.js';

export const ArticleSchema = defineEntity({
  name: 'Article',
  tableName: 'articles',
  properties: {
    id: p.integer().primary(),
    slug: p.string().length(255).unique('articles_slug_unique'),
    title: p.string().length(255),
    description: p.string().length(1000),
    body: p.text(),
    /**
     * `body` rendered and sanitised by renderer `bodyHtmlVersion`; null until written or read by a
     * release that renders on write (docs/read-path.md, "Stored HTML and the migration rule").
     */
    bodyHtml: p.text().nullable(),
    bodyHtmlVersion: p.integer().nullable(),
    /** Drafts are visible only to their author and to editors. */
    status: p.enum(ARTICLE_STATUSES).default('published'),
    author: () =>
      p.manyToOne(User).deleteRule('cascade').foreignKeyName('articles_author_id_foreign'),
    /** Denormalised count of `favorites` rows, changed in the same transaction as the rows. */
    favoritesCount: p.integer().default(0),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  indexes: [
    // Global list and feed: published, newest first, id as the tie-breaker.
    { name: 'articles_status_created_at_id_idx', properties: ['status', 'createdAt', 'id'] },
    // List by author and the feed (author IN followees).
    { name: 'articles_author_created_at_idx', properties: ['author', 'createdAt'] },
  ],
});

export class Article extends ArticleSchema.class {}
ArticleSchema.setClass(Article);

/** Tag assignment; deleting an article or tag removes its rows. */
export const ArticleTagSchema = defineEntity({
  name: 'ArticleTag',
  tableName: 'article_tags',
  properties: {
    article: () =>
      p
        .manyToOne(Article)
        .primary()
        .deleteRule('cascade')
        .foreignKeyName('article_tags_article_id_foreign'),
    tag: () =>
      p
        .manyToOne(Tag)
        .primary()
        .deleteRule('cascade')
        .index('article_tags_tag_idx')
        .foreignKeyName('article_tags_tag_id_foreign'),
  },
});

export class ArticleTag extends ArticleTagSchema.class {}
ArticleTagSchema.setClass(ArticleTag);

/** `user` favorited `article`; the composite key makes favoriting idempotent. */
export const FavoriteSchema = defineEntity({
  name: 'Favorite',
  tableName: 'favorites',
  properties: {
    user: () =>
      p.manyToOne(User).primary().deleteRule('cascade').foreignKeyName('favorites_user_id_foreign'),
    article: () =>
      p
        .manyToOne(Article)
        .primary()
        .deleteRule('cascade')
        .index('favorites_article_idx')
        .foreignKeyName('favorites_article_id_foreign'),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export class Favorite extends FavoriteSchema.class {}
FavoriteSchema.setClass(Favorite);
