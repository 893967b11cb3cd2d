import type { Middleware } from 'koa';
import { UnauthorizedError } from '../errors.js';
import type { Tokens } from '../modules/users/tokens.js';
import { User } from '../modules/users/user.entity.js';
import type { AuthMode } from './routes.js';
import type { AppState } from './state.js';

const SCHEME = /^(?:Token|Bearer) ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/**
 * Per-route authentication. A presented token must be valid (401 otherwise) on every route that
 * looks at the user; `none` routes ignore the header entirely.
 */
export function authenticator(tokens: Tokens): (mode: AuthMode) => Middleware<AppState> {
  const skip: Middleware<AppState> = (_ctx, next) => next();
  const check: Middleware<AppState> = async (ctx, next) => {
    const header = ctx.get('Authorization');
    if (header) {
      const match = SCHEME.exec(header.trim());
      if (!match) throw new UnauthorizedError('must be "Token <jwt>"', 'authorization');
      const token = match[1]!;
      const userId = await tokens.verify(token);
      const user = userId === undefined ? null : await ctx.state.em.findOne(User, userId);
      if (!user) throw new UnauthorizedError('is invalid or expired');
      ctx.state.user = user;
      ctx.state.token = token;
    }
    await next();
  };
  return (mode) => (mode === 'none' ? skip : check);
}
