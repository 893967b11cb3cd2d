import { jsonObject } from '../../json-text.js';
import { z } from 'zod';
import { route, type RouteDef } from '../../http/routes.js';
import { usernameParam } from '../common.schemas.js';
import { ProfileResponse } from './profiles.schemas.js';

const TAG = 'Profile';
const params = z.object({ username: usernameParam });

export const profilesRoutes: RouteDef[] = [
  route({
    method: 'get',
    path: '/profiles/{username}',
    operationId: 'GetProfileByUsername',
    summary: 'Get a profile',
    tag: TAG,
    auth: 'optional',
    params,
    success: { status: 200, description: 'The profile', schema: ProfileResponse },
    errors: [404],
    handler: async ({ params, services }) =>
      jsonObject({ profile: await services.profiles.get(params.username) }),
  }),
  route({
    method: 'post',
    path: '/profiles/{username}/follow',
    operationId: 'FollowUserByUsername',
    summary: 'Follow a user',
    tag: TAG,
    auth: 'required',
    params,
    success: { status: 200, description: 'The followed profile', schema: ProfileResponse },
    errors: [404],
    handler: async ({ params, services }) => ({
      profile: await services.profiles.follow(params.username),
    }),
  }),
  route({
    method: 'delete',
    path: '/profiles/{username}/follow',
    operationId: 'UnfollowUserByUsername',
    summary: 'Unfollow a user',
    tag: TAG,
    auth: 'required',
    params,
    success: { status: 200, description: 'The unfollowed profile', schema: ProfileResponse },
    errors: [404],
    handler: async ({ params, services }) => ({
      profile: await services.profiles.unfollow(params.username),
    }),
  }),
];
