import cors from '@koa/cors';
import Router from '@koa/router';
import type { MikroORM } from '@mikro-orm/postgresql';
import Koa from 'koa';
import { ReadCache } from './cache.js';
import type { Config } from './config.js';
import type { ReadRouter } from './db/read-source.js';
import { DatabaseOutages, type DatabaseOutageOptions } from './db/outage.js';
import type { ReplicaRouter } from './db/replica-router.js';
import { API_PREFIX, API_ROUTES } from './http/api.js';
import { actor, authenticator, CSRF_HEADER, sameOriginChanges } from './http/auth.js';
import { jsonBody } from './http/body.js';
import { createQueueBoard, queueBoardRoute, type QueueBoard } from './http/queue-board.js';
import { Cookies } from './http/cookies.js';
import { graphqlEndpoint } from './graphql/endpoint.js';
import { databaseOutages } from './http/database-outage.js';
import { errorHandler } from './http/error-handler.js';
import { requestMetrics, routeTemplateOf } from './http/metrics.js';
import { failedLoginLimit, perIpRateLimits } from './http/rate-limit.js';
import { readYourWrites } from './http/read-your-writes.js';
import { requestContext } from './http/request-context.js';
import { loginAccountOf, mountRoutes, rateLimitClassOf } from './http/routes.js';
import { securityHeaders } from './http/security-headers.js';
import { actorOf, type AppContext, type AppState } from './http/state.js';
import { requestTimeout } from './http/timeout.js';
import { queueOperations } from './jobs/queue.js';
import type { Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { Maintenance } from './modules/admin/maintenance.js';
import { actorFor } from './modules/auth/actor.js';
import type { OidcTestOnlyOptions } from './modules/auth/oidc.js';
import { oidcRouter } from './modules/auth/oidc.routes.js';
import { Sessions } from './modules/auth/sessions.js';
import { docsRouter } from './modules/docs/docs.routes.js';
import { createRegistry, generateDocument } from './modules/docs/openapi.js';
import { healthRouter, type Lifecycle } from './modules/health/health.routes.js';
import { createServices } from './modules/services.js';
import { Passwords } from './modules/users/passwords.js';
import { Tokens } from './modules/users/tokens.js';
import { RateLimits } from './rate-limits.js';
import { RedisGuard } from './redis-guard.js';
import { createStorage, type DownloadSigner, type ObjectStorage } from './storage/index.js';
import { mediaRouter } from './storage/media.routes.js';
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
  /** The read cache's Redis client (REDIS_CACHE_URL). @default `redis` */
  cacheRedis?: Redis;
  /**
   * The process's Prometheus registry (request, cache and routing metrics; served on METRICS_PORT
   * by server.ts). @default a registry of this app's own
   */
  metrics?: Metrics;
  /** Where plain reads run (issue 10 plugs replicas in here). @default primaryRouter */
  readRouter?: ReadRouter;
  /**
   * The guard of `redis`, when the caller needs it too (the replica router's read-your-writes
   * floors): one guard per client. @default one made from the config
   */
  guard?: RedisGuard;
  /**
   * Replica routing (started by the caller): its router chooses where plain reads run (unless
   * `readRouter` is given) and write requests record read-your-writes floors.
   * @default every read on the primary
   */
  replicas?: ReplicaRouter;
  /** Bull Board for admins (its Redis connections open on first use). @default a new one */
  queueBoard?: QueueBoard;
  /** Where user files live (avatars, exports). @default the one the config names */
  storage?: { storage: ObjectStorage; signer: DownloadSigner };
}

/** The Redis guard of the app's main client, with the configured timeout and circuit. */
export function appRedisGuard(
  redis: Redis,
  config: Pick<Config, 'REDIS_COMMAND_TIMEOUT_MS' | 'REDIS_CIRCUIT_OPEN_MS'>,
  logger: Logger,
): RedisGuard {
  return new RedisGuard(redis, logger, {
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    openMs: config.REDIS_CIRCUIT_OPEN_MS,
  });
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
  const metrics = deps.metrics ?? createMetrics();
  const lifecycle = deps.lifecycle ?? { shuttingDown: false };
  const tokens = new Tokens(config);
  const passwords = deps.passwords ?? new Passwords(config);
  // Every Redis call on the request path goes through this guard (timeout + circuit breaker).
  const guard = deps.guard ?? appRedisGuard(deps.redis, config, logger);
  const sessions = new Sessions(guard, config);
  // The cache has a guard of its own when it has a client of its own (one guard per client).
  const cacheGuard = deps.cacheRedis ? appRedisGuard(deps.cacheRedis, config, logger) : guard;
  const replicas = deps.replicas;
  // With replicas, each invalidation carries the primary's WAL position: a replica past it may
  // fill the cache too (docs/read-replicas.md).
  const cache = new ReadCache(
    cacheGuard,
    config,
    metrics,
    replicas && (() => replicas.walPosition()),
  );
  const maintenance = new Maintenance();
  const files = deps.storage ?? createStorage(config);
  const services = createServices({
    passwords,
    tokens,
    sessions,
    maintenance,
    queues: queueOperations(guard, config, logger),
    cache,
    exports: { config, storage: files.storage },
    avatars: {
      storage: files.storage,
      maxBytes: config.AVATAR_MAX_BYTES,
      maxPixels: config.AVATAR_MAX_PIXELS,
      publicUrl: config.PUBLIC_URL,
    },
    ...(deps.readRouter || deps.replicas
      ? { readRouter: deps.readRouter ?? deps.replicas!.route }
      : {}),
  });
  const requestServices = (ctx: AppContext) => services(ctx.state.em, actorOf(ctx));
  const cookies = new Cookies(config);
  const limits = new RateLimits({ config, guard, logger });
  const authenticate = authenticator(tokens, sessions);
  const withActor = actor(maintenance);
  const oidc = oidcRouter({
    config,
    guard,
    actor: withActor,
    services: requestServices,
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
  mountRoutes(api, registry, API_ROUTES, {
    basePath: '',
    // Failed logins are counted before authentication, as for any anonymous request.
    before: (def) => [
      ...(def.rateLimit === 'login' ? [failedLoginLimit(limits, loginAccountOf(def))] : []),
      authenticate(def.auth),
      withActor,
    ],
    services: requestServices,
  });
  let document: object | undefined;

  // Outermost, so every answer is counted with its final status, whoever decided it.
  app.use(requestMetrics(metrics, routeTemplateOf(api)));
  app.use(requestContext(logger));
  app.use(errorHandler());
  app.use(databaseOutages(new DatabaseOutages(orm, logger, deps.databaseOutage)));
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
  app.use(perIpRateLimits(limits, rateLimitClassOf(api, API_ROUTES)));
  app.use(
    jsonBody({
      limitBytes: config.BODY_LIMIT_BYTES,
      maxDepth: config.BODY_MAX_DEPTH,
      maxElements: config.BODY_MAX_ELEMENTS,
    }),
  );
  app.use(async (ctx, next) => {
    ctx.state.em = orm.em.fork();
    ctx.state.cookies = cookies;
    await next();
  });
  if (deps.replicas) app.use(readYourWrites(deps.replicas, tokens));
  const health = healthRouter({ orm, redis: deps.redis, lifecycle });
  app.use(health.routes());
  app.use(mediaRouter(files).routes());
  const docs = docsRouter(() => (document ??= generateDocument(registry)));
  app.use(docs.routes());
  app.use(oidc.routes());
  app.use(
    graphqlEndpoint({
      services,
      authenticate: (needsCsrf) => authenticate('optional', needsCsrf),
      actor: withActor,
      anonymousActor: (ctx) => actorFor(ctx.state.em, maintenance, undefined, ctx.state.requestId),
      limits,
      explorer: config.NODE_ENV !== 'production',
    }),
  );
  app.use(
    queueBoardRoute(
      deps.queueBoard ?? createQueueBoard(config, logger),
      authenticate('required', sameOriginChanges),
      withActor,
    ),
  );
  app.use(api.routes());
  app.use(api.allowedMethods());
  return app;
}
