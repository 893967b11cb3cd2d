import { z } from 'zod';
import { route, type RouteDef } from '../../http/routes.js';
import { slugParam } from '../../http/schemas.js';
import {
  FeedQuery,
  ListArticlesQuery,
  MultipleArticlesResponse,
  NewArticleRequest,
  SingleArticleResponse,
  UpdateArticleRequest,
} from './articles.schemas.js';
import { ArticlesService } from './articles.service.js';

const slug = z.object({ slug: slugParam });

/** Articles and favorites. `/articles/feed` comes before `/articles/{slug}` so it wins. */
export function articlesRoutes(): RouteDef[] {
  return [
    route({
      method: 'get',
      path: '/articles/feed',
      operationId: 'GetArticlesFeed',
      summary: 'Recent articles from users you follow, newest first',
      tag: 'Articles',
      auth: 'required',
      query: FeedQuery,
      success: { status: 200, description: 'A page of articles', schema: MultipleArticlesResponse },
      handler: ({ query, user, ctx }) => new ArticlesService(ctx.state.em).feed(user, query),
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
      handler: ({ query, user, ctx }) => new ArticlesService(ctx.state.em).list(user, query),
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
      handler: async ({ body, user, ctx }) => ({
        article: await new ArticlesService(ctx.state.em).create(user, body.article),
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
      handler: async ({ params, user, ctx }) => ({
        article: await new ArticlesService(ctx.state.em).get(user, params.slug),
      }),
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
      handler: async ({ params, body, user, ctx }) => ({
        article: await new ArticlesService(ctx.state.em).update(user, params.slug, body.article),
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
      handler: async ({ params, user, ctx }) => {
        await new ArticlesService(ctx.state.em).delete(user, params.slug);
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
      errors: [404],
      handler: async ({ params, user, ctx }) => ({
        article: await new ArticlesService(ctx.state.em).favorite(user, params.slug),
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
      errors: [404],
      handler: async ({ params, user, ctx }) => ({
        article: await new ArticlesService(ctx.state.em).unfavorite(user, params.slug),
      }),
    }),
  ];
}
