import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { Config } from '../../config.js';
import { sameSecret } from '../../crypto.js';
import { BadRequestError, NotFoundError } from '../../errors.js';
import type { AppContext, AppState } from '../../http/state.js';
import type { RedisGuard } from '../../redis-guard.js';
import type { Services } from '../services.js';
import { OidcFlows, OidcProviders, ProviderError, type OidcTestOnlyOptions } from './oidc.js';

export interface OidcRoutesDeps {
  config: Pick<
    Config,
    | 'OIDC_PROVIDERS'
    | 'OIDC_SUCCESS_REDIRECT'
    | 'PUBLIC_URL'
    | 'REDIS_KEY_PREFIX'
    | 'SESSION_COOKIE_NAME'
  >;
  guard: RedisGuard;
  /** Runs before the routes: sets the request's (anonymous) actor. */
  actor: Middleware<AppState>;
  /** The feature services for a request. */
  services: (ctx: AppContext) => Services;
  /** Where the router is mounted (`/api/auth/oidc`); the redirect URIs are built from it. */
  prefix: string;
  /** See OidcTestOnlyOptions: tests only. */
  testOnly?: OidcTestOnlyOptions;
}

/**
 * Browser sign-in through OpenID Connect / OAuth providers (authorization code + PKCE, state,
 * nonce). These are redirects, not JSON operations, so they live outside the OpenAPI routes;
 * errors still use the service's JSON error body. The result is an ordinary cookie session.
 */
export function oidcRouter(deps: OidcRoutesDeps): Router<AppState> {
  const { config } = deps;
  // Throws ConfigError at boot for a provider without issuer or preset.
  const providers = new OidcProviders(config.OIDC_PROVIDERS, deps.testOnly);
  const flows = new OidcFlows(deps.guard, config.REDIS_KEY_PREFIX);
  const router = new Router<AppState>({ prefix: deps.prefix });
  router.use(deps.actor);

  const redirectUri = (name: string) =>
    new URL(`${deps.prefix}/${name}/callback`, config.PUBLIC_URL).toString();

  // The state also rides in a cookie scoped to this provider's callback: a callback completed in
  // another browser (login CSRF, a forwarded link) lacks it and fails.
  const stateCookie = `${config.SESSION_COOKIE_NAME}_oidc`;
  const setStateCookie = (ctx: AppContext, name: string, value: string) =>
    ctx.state.cookies.set(ctx, stateCookie, value, {
      path: `${deps.prefix}/${name}/`,
      sameSite: 'lax',
      maxAgeMs: value ? OidcFlows.ttlSeconds * 1000 : 0,
    });

  const provider = (name: string) => {
    const found = providers.get(name);
    if (!found) throw new NotFoundError('provider');
    return found;
  };

  router.get('/:provider/login', async (ctx) => {
    const idp = provider(ctx.params.provider!);
    const { url, state, flow } = await idp.start(redirectUri(idp.name));
    await flows.save(state, flow);
    setStateCookie(ctx as AppContext, idp.name, state);
    ctx.redirect(url.toString());
  });

  router.get('/:provider/callback', async (ctx) => {
    const idp = provider(ctx.params.provider!);
    const cookieState = ctx.cookies.get(stateCookie) ?? '';
    const queryState = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    setStateCookie(ctx as AppContext, idp.name, '');
    if (!cookieState || !queryState || !sameSecret(cookieState, queryState)) {
      throw new BadRequestError({ state: ['is missing or does not match this browser'] });
    }
    // Taken before anything else so the flow is single-use whatever happens next.
    const flow = await flows.take(queryState);
    if (!flow || flow.provider !== idp.name) {
      throw new BadRequestError({ state: ['has expired or was already used'] });
    }
    if (typeof ctx.query.error === 'string') {
      // The error code is from a fixed OAuth vocabulary; anything else is not echoed.
      const code = /^[a-z_]{1,64}$/.test(ctx.query.error) ? ctx.query.error : 'an error';
      throw new BadRequestError({ provider: [`answered ${code}`] });
    }

    const callbackUrl = new URL(redirectUri(idp.name));
    callbackUrl.search = ctx.querystring;
    let identity;
    try {
      identity = await idp.finish(callbackUrl, queryState, flow);
    } catch (err) {
      if (err instanceof ProviderError) {
        ctx.state.log.warn({ provider: idp.name, reason: err.reason }, 'oidc login failed');
      }
      throw err;
    }
    // Like a password login: any earlier session of this browser ends, the new one has a new id.
    const { id, user, created } = await deps
      .services(ctx as AppContext)
      .sessions.loginWithProvider(identity, ctx.state.cookies.sessionId(ctx));
    ctx.state.cookies.setSession(ctx, id);
    ctx.state.log.info({ provider: idp.name, userId: user.id, created }, 'oidc login');
    ctx.redirect(config.OIDC_SUCCESS_REDIRECT);
  });

  return router;
}
