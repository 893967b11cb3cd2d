import { route, type RouteDef } from '../../http/routes.js';
import {
  LoginUserRequest,
  NewUserRequest,
  UpdateUserRequest,
  UserResponse,
} from './users.schemas.js';

const TAG = 'User and Authentication';

export const usersRoutes: RouteDef[] = [
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
    rateLimit: 'login',
    handler: async ({ body, services }) => ({ user: await services.users.login(body.user) }),
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
    rateLimit: 'auth',
    handler: async ({ body, services }) => ({ user: await services.users.register(body.user) }),
  }),
  route({
    method: 'get',
    path: '/user',
    operationId: 'GetCurrentUser',
    summary: 'Get current user',
    tag: TAG,
    auth: 'required',
    success: { status: 200, description: 'The current user', schema: UserResponse },
    handler: async ({ token, services }) => ({ user: services.users.current(token ?? '') }),
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
    rateLimit: 'auth',
    handler: async ({ body, token, services }) => ({
      user: await services.users.update(body.user, token ?? ''),
    }),
  }),
];
