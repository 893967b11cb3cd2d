import cors from '@koa/cors';
import Router from '@koa/router';
import type { MikroORM } from '@mikro-orm/postgresql';
import Koa from 'koa';
import type { Config } from './config.js';
import { databaseOutages, type DatabaseOutageOptions } from './db/outage.js';
import { jsonBody } from './http/body.js';
import { queueCounter, type QueueCounts } from './jobs/queue.js';
import { authenticator, CSRF_HEADER } from './http/auth.js';
import { authRoutes } from './modules/auth/auth.routes.js';
import { Sessions } from './modules/auth/sessions.js';
import { abilities } from './modules/auth/abilities.middleware.js';
import { adminRoutes } from './modules/admin/admin.routes.js';
import { Maintenance } from './modules/admin/maintenance.js';
import type { OidcTestOnlyOptions } from './modules/auth/oidc.js';
import { oidcRouter } from './modules/auth/oidc.routes.js';
import { errorHandler } from './http/error-handler.js';
import { rateLimits } from './http/rate-limit.js';
import { securityHeaders } from './http/security-headers.js';
import { requestTimeout } from './http/timeout.js';
import { requestContext } from './http/request-context.js';
import { mountRoutes, type RouteDef } from './http/routes.js';
import type { AppState } from './http/state.js';
import type { Logger } from './logger.js';
import { articlesRoutes } from './modules/articles/articles.routes.js';
import { commentsRoutes } from './modules/comments/comments.routes.js';
import { docsRouter } from './modules/docs/docs.routes.js';
import { createRegistry, generateDocument } from './modules/docs/openapi.js';
import { healthRouter, type Lifecycle } from './modules/health/health.routes.js';
import { profilesRoutes } from './modules/profiles/profiles.routes.js';
import { tagsRoutes } from './modules/tags/tags.routes.js';
import { Passwords } from './modules/users/passwords.js';
import { Tokens } from './modules/users/tokens.js';
import { usersRoutes } from './modules/users/users.routes.js';
import { RedisGuard } from './redis-guard.js';
import type { Redis } from './redis.js';

export interface AppDeps {
  config: Config;
  orm: MikroORM;
  redis: Redis;
  logger: Logger;
  /** Injected so tests can observe the work done (verification counts), not timings. */
  passwords?: Passwords;
  /** Shared with the server so readiness can report a shutdown in progress. */
  lifecycle?: Lifecycle;
  /** Tests only (plain-HTTP identity provider); deliberately not reachable from config. */
  oidcTestOnly?: OidcTestOnlyOptions;
  /** How a database outage is answered and reported. @default see DatabaseOutageOptions */
  databaseOutage?: DatabaseOutageOptions;
}

export const API_PREFIX = '/api';

/** Every REST operation, in mount order. */
export function apiRoutes(deps: {
  passwords: Passwords;
  tokens: Tokens;
  sessions: Sessions;
  maintenance: Maintenance;
  queueCounts: () => Promise<QueueCounts[]>;
  config: Config;
  logger: Logger;
}): RouteDef[] {
  return [
    ...usersRoutes(deps),
    ...authRoutes(deps),
    ...profilesRoutes(),
    ...articlesRoutes(),
    ...commentsRoutes(),
    ...tagsRoutes(),
    ...adminRoutes(deps),
  ];
}

function corsOrigin(allowed: string): string | ((ctx: Koa.Context) => string) {
  if (allowed.trim() === '*') return '*';
  const origins = new Set(
    allowed
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
  );
  // An empty string means "no CORS headers": the browser then blocks the response.
  return (ctx) => (origins.has(ctx.get('Origin')) ? ctx.get('Origin') : '');
}

/** Builds the Koa application without listening (server.ts listens; tests may use callback()). */
export function createApp(deps: AppDeps): Koa<AppState> {
  const { config, orm, logger } = deps;
  const lifecycle = deps.lifecycle ?? { shuttingDown: false };
  const tokens = new Tokens(config);
  const passwords = deps.passwords ?? new Passwords(config);
  // Every Redis call on the request path goes through this guard (timeout + circuit breaker).
  const guard = new RedisGuard(deps.redis, logger, {
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    openMs: config.REDIS_CIRCUIT_OPEN_MS,
  });
  const sessions = new Sessions(guard, config);
  const queueCounts = queueCounter(guard, config, logger);
  const maintenance = new Maintenance();
  const authenticate = authenticator(tokens, sessions);
  const withAbility = abilities(maintenance);
  const oidc = oidcRouter({
    config,
    guard,
    sessions,
    passwords,
    prefix: `${API_PREFIX}/auth/oidc`,
    ...(deps.oidcTestOnly ? { testOnly: deps.oidcTestOnly } : {}),
  });

  const app = new Koa<AppState>({ proxy: config.TRUST_PROXY });
  // Errors reach here only after the response was decided (the error handler answers all others):
  // a client that went away mid-request. One line without a stack, not Koa's stderr dump, so
  // clients dropping connections cannot flood the log with stack traces.
  app.on('error', (err: Error & { code?: string }) => {
    logger.info({ err: err.message, code: err.code }, 'connection ended before the response');
  });
  // Behind one load balancer the client address is the last X-Forwarded-For entry (the one the
  // load balancer appended); earlier entries are client-supplied and cannot be trusted.
  app.maxIpsCount = 1;

  const registry = createRegistry();
  const api = new Router<AppState>({ prefix: API_PREFIX });
  mountRoutes(
    api,
    registry,
    apiRoutes({ passwords, tokens, sessions, maintenance, queueCounts, config, logger }),
    '',
    (mode) => [authenticate(mode), withAbility],
  );
  let document: object | undefined;

  app.use(requestContext(logger));
  app.use(errorHandler());
  app.use(databaseOutages(orm, logger, deps.databaseOutage));
  app.use(securityHeaders());
  app.use(
    cors({
      origin: corsOrigin(config.CORS_ORIGINS),
      allowHeaders: [
        'Authorization',
        'Content-Type',
        'X-Requested-With',
        'X-Request-Id',
        CSRF_HEADER,
      ],
      exposeHeaders: [
        'X-Request-Id',
        'Retry-After',
        'RateLimit-Limit',
        'RateLimit-Remaining',
        'RateLimit-Reset',
      ],
      maxAge: 600,
      // Cookies only ever flow to allow-listed origins; with `*` the API is token-only cross-site.
      credentials: config.CORS_ORIGINS.trim() !== '*',
    }),
  );
  app.use(async (ctx, next) => {
    await next();
    // Draining: tell keep-alive clients to reconnect (to another target) after this response.
    if (lifecycle.shuttingDown) ctx.set('Connection', 'close');
  });
  // Nothing above awaits I/O after next(), so a timed-out request is answered at once.
  app.use(requestTimeout(config.REQUEST_TIMEOUT_MS));
  const limits = rateLimits({ config, guard, logger });
  app.use(limits.perIp);
  app.use(
    jsonBody({
      limitBytes: config.BODY_LIMIT_BYTES,
      maxDepth: config.BODY_MAX_DEPTH,
      maxElements: config.BODY_MAX_ELEMENTS,
    }),
  );
  app.use(limits.perAccount);
  app.use(async (ctx, next) => {
    ctx.state.em = orm.em.fork();
    await next();
  });
  const health = healthRouter({ orm, redis: deps.redis, lifecycle });
  app.use(health.routes());
  const docs = docsRouter(() => (document ??= generateDocument(registry)));
  app.use(docs.routes());
  app.use(oidc.routes());
  app.use(api.routes());
  app.use(api.allowedMethods());
  return app;
}
