import type { AppContext } from '../../http/state.js';
import { route, type RouteDef } from '../../http/routes.js';
import {
  LoginUserRequest,
  NewUserRequest,
  UpdateUserRequest,
  UserResponse,
} from './users.schemas.js';
import { toUserDto, UsersService, type UsersDeps } from './users.service.js';

const TAG = 'User and Authentication';

export function usersRoutes(deps: UsersDeps): RouteDef[] {
  const service = (ctx: AppContext) => new UsersService(ctx.state.em, deps, ctx.state.ability);
  return [
    route({
      method: 'post',
      path: '/users/login',
      operationId: 'Login',
      summary: 'Existing user login',
      tag: TAG,
      auth: 'none',
      body: LoginUserRequest,
      success: { status: 200, description: 'The user with a fresh token', schema: UserResponse },
      errors: [401],
      handler: async ({ body, ctx }) => ({ user: await service(ctx).login(body.user) }),
    }),
    route({
      method: 'post',
      path: '/users',
      operationId: 'CreateUser',
      summary: 'Register a new user',
      tag: TAG,
      auth: 'none',
      body: NewUserRequest,
      success: { status: 201, description: 'The new user with a token', schema: UserResponse },
      freezable: true,
      handler: async ({ body, ctx }) => ({ user: await service(ctx).register(body.user) }),
    }),
    route({
      method: 'get',
      path: '/user',
      operationId: 'GetCurrentUser',
      summary: 'Get current user',
      tag: TAG,
      auth: 'required',
      success: { status: 200, description: 'The current user', schema: UserResponse },
      handler: async ({ user, token }) => ({ user: toUserDto(user, token ?? '') }),
    }),
    route({
      method: 'put',
      path: '/user',
      operationId: 'UpdateCurrentUser',
      summary: 'Update current user',
      tag: TAG,
      auth: 'required',
      body: UpdateUserRequest,
      success: { status: 200, description: 'The updated user', schema: UserResponse },
      handler: async ({ body, user, token, ctx }) => ({
        user: await service(ctx).update(user, token ?? '', body.user),
      }),
    }),
  ];
}
