import { z } from 'zod';
import { longText, pagination, singleLine } from '../common.schemas.js';
import { ProfileSchema } from '../profiles/profiles.schemas.js';
import { ARTICLE_STATUSES } from './article.entity.js';

const status = z
  .enum(ARTICLE_STATUSES)
  .meta({ description: 'Plinth extension: drafts are visible only to their author and editors' });

/** Tags per article and characters per tag. */
export const MAX_TAGS = 20;
export const MAX_TAG_LENGTH = 64;

const tagList = z
  .array(singleLine('tag', MAX_TAG_LENGTH))
  .max(MAX_TAGS)
  .transform((tags) => [...new Set(tags)]);

const title = singleLine('title', 255);
const description = singleLine('description', 1000);
const body = longText('body', 100_000);

export const NewArticleRequest = z
  .object({
    article: z
      .object({ title, description, body, tagList: tagList.optional(), status: status.optional() })
      .meta({ id: 'NewArticle' }),
  })
  .meta({ id: 'NewArticleRequest' });

export const UpdateArticleRequest = z
  .object({
    article: z
      .object({
        title: title.optional(),
        description: description.optional(),
        body: body.optional(),
        tagList: tagList.optional().meta({ description: 'Replaces the tags (Plinth extension)' }),
        status: status.optional(),
      })
      .refine(
        (a) => Object.values(a).some((v) => v !== undefined),
        'must contain at least one field',
      )
      .meta({ id: 'UpdateArticle' }),
  })
  .meta({ id: 'UpdateArticleRequest' });

const filter = (what: string) => z.string().min(1).max(64).optional().meta({ description: what });

export const ListArticlesQuery = z.strictObject({
  status: status.optional(),
  tag: filter('Only articles with this tag'),
  author: filter('Only articles by this username'),
  favorited: filter('Only articles favorited by this username'),
  ...pagination,
});

export const FeedQuery = z.strictObject({ ...pagination });

const articleFields = {
  slug: z.string(),
  title: z.string(),
  description: z.string(),
  tagList: z.array(z.string()),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  favorited: z.boolean(),
  favoritesCount: z.number().int(),
  author: ProfileSchema,
  status,
};

export const ArticleSchema = z
  .object({
    ...articleFields,
    body: z.string().meta({ description: 'Markdown, exactly as written' }),
    bodyHtml: z
      .string()
      .meta({ description: 'Plinth extension: sanitised HTML rendering of body' }),
  })
  .meta({ id: 'Article' });

/** List items omit `body`, as the RealWorld contract says. */
export const ArticleListItemSchema = z.object(articleFields).meta({ id: 'ArticleListItem' });

export const SingleArticleResponse = z
  .object({ article: ArticleSchema })
  .meta({ id: 'SingleArticleResponse' });

export const MultipleArticlesResponse = z
  .object({ articles: z.array(ArticleListItemSchema), articlesCount: z.number().int() })
  .meta({ id: 'MultipleArticlesResponse' });

export type ArticleDto = z.infer<typeof ArticleSchema>;
export type ArticleListItemDto = z.infer<typeof ArticleListItemSchema>;
