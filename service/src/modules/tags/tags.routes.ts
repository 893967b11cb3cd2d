import { jsonObject } from '../../json-text.js';
import { z } from 'zod';
import { route, type RouteDef } from '../../http/routes.js';
import { queryInt } from '../common.schemas.js';

export const TagsResponse = z.object({ tags: z.array(z.string()) }).meta({ id: 'TagsResponse' });

export const tagsRoutes: RouteDef[] = [
  route({
    method: 'get',
    path: '/tags',
    operationId: 'GetTags',
    summary: 'Get tags in use, most used first',
    tag: 'Tags',
    auth: 'none',
    query: z.strictObject({
      limit: queryInt({
        min: 1,
        max: 1000,
        default: 100,
        description: 'How many tags (1–1000).',
      }),
    }),
    success: { status: 200, description: 'Tags', schema: TagsResponse },
    handler: async ({ query, services }) =>
      jsonObject({ tags: await services.tags.popular(query.limit) }),
  }),
];
