/**
 * The endpoints that accept a request body, for the platform's WAF: its body-inspecting managed
 * rules (the 8 KB body-size rule, cross-site scripting in the body) are scoped away from exactly
 * these, where the API's own body limit (`BODY_LIMIT_BYTES`) and request validation are the guard.
 * infra never imports the service: it reads the committed manifest `BODY_ROUTES_MANIFEST`, which
 * `npm run routes:manifest` regenerates and a test keeps equal to the route table.
 */
import { API_PREFIX, apiRoutes } from './app.js';
import { loadConfig } from './config.js';
import type { RouteDef } from './http/routes.js';
import { createLogger } from './logger.js';
import { Sessions } from './modules/auth/sessions.js';
import { Maintenance } from './modules/admin/maintenance.js';
import { Passwords } from './modules/users/passwords.js';
import { Tokens } from './modules/users/tokens.js';
import { RedisGuard } from './redis-guard.js';
import { createRedis } from './redis.js';

/** One body-accepting endpoint: method and OpenAPI-style path (`/api/articles/{slug}`). */
export interface BodyRoute {
  readonly method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
}

/**
 * Body-accepting endpoints outside the REST route table (GraphQL, uploads): whoever adds such an
 * endpoint lists it here, so the WAF scoping covers it the same way.
 */
export const NON_REST_BODY_ROUTES: readonly BodyRoute[] = [];

/** Repository-relative path of the committed manifest that infra reads. */
export const BODY_ROUTES_MANIFEST = 'infra/lib/generated/body-routes.json';

/** The body-accepting endpoints of `defs` (mounted under `prefix`) plus the non-REST ones, sorted. */
export function bodyRoutes(
  defs: readonly RouteDef[],
  prefix = API_PREFIX,
  extra: readonly BodyRoute[] = NON_REST_BODY_ROUTES,
): BodyRoute[] {
  const rest = defs
    .filter((def) => def.body !== undefined)
    .map((def): BodyRoute => ({
      method: def.method.toUpperCase() as BodyRoute['method'],
      path: `${prefix}${def.path}`,
    }));
  return [...rest, ...extra].sort(
    (a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method),
  );
}

/**
 * The service's current body-accepting endpoints. Route definitions do not depend on settings, so
 * placeholder settings do; nothing here connects anywhere (the Redis client connects lazily).
 */
export function currentBodyRoutes(): BodyRoute[] {
  const config = loadConfig({
    DATABASE_URL: 'postgres://manifest@localhost:5432/manifest',
    REDIS_URL: 'redis://localhost:6379',
    JWT_SECRET: 'route-manifest-placeholder-secret-0123456789',
  });
  const logger = createLogger({ level: 'silent' });
  const redis = createRedis(config, logger);
  try {
    return bodyRoutes(
      apiRoutes({
        passwords: new Passwords(config),
        tokens: new Tokens(config),
        sessions: new Sessions(new RedisGuard(redis, logger), config),
        maintenance: new Maintenance(),
        queueCounts: async () => [],
        config,
        logger,
      }),
    );
  } finally {
    redis.disconnect();
  }
}

/** The manifest file's text (stable order, trailing newline). */
export function renderBodyRoutesManifest(routes: readonly BodyRoute[]): string {
  const manifest = {
    $comment:
      'Generated from the service route table by `npm run routes:manifest`; do not edit. ' +
      'The WAF scopes its body-inspecting rules away from these endpoints (docs/infra.md).',
    bodyRoutes: routes,
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
