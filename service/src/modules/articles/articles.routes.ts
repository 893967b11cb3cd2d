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
import { actorOf } from '../../http/state.js';

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
      handler: ({ query, ctx }) => new ArticlesService(ctx.state.em, actorOf(ctx)).feed(query),
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
      handler: ({ query, ctx }) => new ArticlesService(ctx.state.em, actorOf(ctx)).list(query),
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
      handler: async ({ body, ctx }) => ({
        article: await new ArticlesService(ctx.state.em, actorOf(ctx)).create(body.article),
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
      handler: async ({ params, ctx }) => ({
        article: await new ArticlesService(ctx.state.em, actorOf(ctx)).get(params.slug),
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
      handler: async ({ params, body, ctx }) => ({
        article: await new ArticlesService(ctx.state.em, actorOf(ctx)).update(
          params.slug,
          body.article,
        ),
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
      handler: async ({ params, ctx }) => {
        await new ArticlesService(ctx.state.em, actorOf(ctx)).delete(params.slug);
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
      handler: async ({ params, ctx }) => ({
        article: await new ArticlesService(ctx.state.em, actorOf(ctx)).favorite(params.slug),
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
      handler: async ({ params, ctx }) => ({
        article: await new ArticlesService(ctx.state.em, actorOf(ctx)).unfavorite(params.slug),
      }),
    }),
  ];
}
