import { jsonObject } from '../../json-text.js';
import { z } from 'zod';
import { route, type RouteDef } from '../../http/routes.js';
import { slugParam } from '../common.schemas.js';
import {
  MultipleCommentsResponse,
  NewCommentRequest,
  SingleCommentResponse,
} from './comments.schemas.js';

const TAG = 'Comments';
const slug = z.object({ slug: slugParam });

export const commentsRoutes: RouteDef[] = [
  route({
    method: 'get',
    path: '/articles/{slug}/comments',
    operationId: 'GetArticleComments',
    summary: 'Get comments for an article (oldest first)',
    tag: TAG,
    auth: 'optional',
    params: slug,
    success: { status: 200, description: 'The comments', schema: MultipleCommentsResponse },
    errors: [404],
    handler: async ({ params, services }) =>
      jsonObject({ comments: await services.comments.list(params.slug) }),
  }),
  route({
    method: 'post',
    path: '/articles/{slug}/comments',
    operationId: 'CreateArticleComment',
    summary: 'Create a comment for an article',
    tag: TAG,
    auth: 'required',
    params: slug,
    body: NewCommentRequest,
    success: { status: 200, description: 'The new comment', schema: SingleCommentResponse },
    errors: [404],
    handler: async ({ params, body, services }) => ({
      comment: await services.comments.create(params.slug, body.comment.body),
    }),
  }),
  route({
    method: 'delete',
    path: '/articles/{slug}/comments/{id}',
    operationId: 'DeleteArticleComment',
    summary: 'Delete a comment for an article',
    tag: TAG,
    auth: 'required',
    params: slug.extend({
      id: z
        .string()
        .regex(/^\d{1,9}$/, 'must be a positive integer')
        .transform(Number)
        .meta({ param: { schema: { type: 'integer', minimum: 1 } } }),
    }),
    success: { status: 204, description: 'Deleted' },
    errors: [403, 404],
    handler: async ({ params, services }) => {
      await services.comments.delete(params.slug, params.id);
    },
  }),
];
