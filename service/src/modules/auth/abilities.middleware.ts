import type { Middleware } from 'koa';
import type { AppState } from '../../http/state.js';
import type { Maintenance } from '../admin/maintenance.js';
import { defineAbilityFor } from './abilities.js';

/** Computes the request's ability after authentication, from the user and the environment. */
export function abilities(maintenance: Maintenance): Middleware<AppState> {
  return async (ctx, next) => {
    const writeFreeze = await maintenance.writeFreeze(ctx.state.em);
    ctx.state.ability = defineAbilityFor(ctx.state.user, { writeFreeze });
    await next();
  };
}
