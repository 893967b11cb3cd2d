import { z } from 'zod';
import { route, type RouteDef } from '../../http/routes.js';
import { slugParam } from '../common.schemas.js';
import { jsonObject } from '../../json-text.js';
import {
  FeedQuery,
  ListArticlesQuery,
  MultipleArticlesResponse,
  NewArticleRequest,
  SingleArticleResponse,
  UpdateArticleRequest,
  type ArticleListItemDto,
} from './articles.schemas.js';
import type { JsonPage } from './articles.service.js';

const slug = z.object({ slug: slugParam });

const multiple = (page: JsonPage<ArticleListItemDto>) =>
  jsonObject({ articles: page.items, articlesCount: page.count });

/** Articles and favorites. `/articles/feed` comes before `/articles/{slug}` so it wins. */
export const articlesRoutes: RouteDef[] = [
  route({
    method: 'get',
    path: '/articles/feed',
    operationId: 'GetArticlesFeed',
    summary: 'Recent articles from users you follow, newest first',
    tag: 'Articles',
    auth: 'required',
    query: FeedQuery,
    success: { status: 200, description: 'A page of articles', schema: MultipleArticlesResponse },
    handler: async ({ query, services }) => multiple(await services.articles.feed(query)),
  }),
  route({
    method: 'get',
    path: '/articles',
    operationId: 'GetArticles',
    summary: 'Recent articles globally, newest first, with optional filters',
    tag: 'Articles',
    auth: 'optional',
    query: ListArticlesQuery,
    success: { status: 200, description: 'A page of articles', schema: MultipleArticlesResponse },
    handler: async ({ query, services }) => multiple(await services.articles.list(query)),
  }),
  route({
    method: 'post',
    path: '/articles',
    operationId: 'CreateArticle',
    summary: 'Create an article',
    tag: 'Articles',
    auth: 'required',
    body: NewArticleRequest,
    success: { status: 201, description: 'The new article', schema: SingleArticleResponse },
    errors: [403],
    handler: async ({ body, services }) => ({
      article: await services.articles.create(body.article),
    }),
  }),
  route({
    method: 'get',
    path: '/articles/{slug}',
    operationId: 'GetArticle',
    summary: 'Get an article',
    tag: 'Articles',
    auth: 'optional',
    params: slug,
    success: { status: 200, description: 'The article', schema: SingleArticleResponse },
    errors: [404],
    handler: async ({ params, services }) =>
      jsonObject({ article: await services.articles.get(params.slug) }),
  }),
  route({
    method: 'put',
    path: '/articles/{slug}',
    operationId: 'UpdateArticle',
    summary: 'Update an article (its author only); a new title gives a new slug',
    tag: 'Articles',
    auth: 'required',
    params: slug,
    body: UpdateArticleRequest,
    success: { status: 200, description: 'The updated article', schema: SingleArticleResponse },
    errors: [403, 404],
    handler: async ({ params, body, services }) => ({
      article: await services.articles.update(params.slug, body.article),
    }),
  }),
  route({
    method: 'delete',
    path: '/articles/{slug}',
    operationId: 'DeleteArticle',
    summary: 'Delete an article (its author only)',
    tag: 'Articles',
    auth: 'required',
    params: slug,
    success: { status: 204, description: 'Deleted' },
    errors: [403, 404],
    handler: async ({ params, services }) => {
      await services.articles.delete(params.slug);
    },
  }),
  route({
    method: 'post',
    path: '/articles/{slug}/favorite',
    operationId: 'CreateArticleFavorite',
    summary: 'Favorite an article',
    tag: 'Favorites',
    auth: 'required',
    params: slug,
    success: { status: 200, description: 'The article', schema: SingleArticleResponse },
    errors: [403, 404],
    handler: async ({ params, services }) => ({
      article: await services.articles.favorite(params.slug),
    }),
  }),
  route({
    method: 'delete',
    path: '/articles/{slug}/favorite',
    operationId: 'DeleteArticleFavorite',
    summary: 'Unfavorite an article',
    tag: 'Favorites',
    auth: 'required',
    params: slug,
    success: { status: 200, description: 'The article', schema: SingleArticleResponse },
    errors: [403, 404],
    handler: async ({ params, services }) => ({
      article: await services.articles.unfavorite(params.slug),
    }),
  }),
];
