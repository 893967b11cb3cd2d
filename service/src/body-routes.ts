/**
 * The endpoints that accept a request body, for the platform's WAF: its body-inspecting managed
 * rules (the 8 KB body-size rule, cross-site scripting in the body) are scoped away from exactly
 * these, where the API's own body limit (`BODY_LIMIT_BYTES`) and request validation are the guard.
 * infra never imports the service: it reads the committed manifest `BODY_ROUTES_MANIFEST`, which
 * `npm run routes:manifest` regenerates and a test keeps equal to the route table.
 */
import { API_PREFIX, API_ROUTES } from './http/api.js';
import type { RouteDef } from './http/routes.js';

/** One body-accepting endpoint: method and OpenAPI-style path (`/api/articles/{slug}`). */
export interface BodyRoute {
  readonly method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
}

/**
 * Body-accepting endpoints outside the REST route table (GraphQL, uploads): whoever adds such an
 * endpoint lists it here, so the WAF scoping covers it the same way.
 */
export const NON_REST_BODY_ROUTES: readonly BodyRoute[] = [{ method: 'POST', path: '/graphql' }];

/** Repository-relative path of the committed manifest that infra reads. */
export const BODY_ROUTES_MANIFEST = 'infra/lib/generated/body-routes.json';

/** The body-accepting endpoints of `defs` (mounted under `prefix`) plus the non-REST ones, sorted. */
export function bodyRoutes(
  defs: readonly RouteDef[],
  prefix = API_PREFIX,
  extra: readonly BodyRoute[] = NON_REST_BODY_ROUTES,
): BodyRoute[] {
  const rest = defs
    .filter((def) => def.body !== undefined || def.upload !== undefined)
    .map((def): BodyRoute => ({
      method: def.method.toUpperCase() as BodyRoute['method'],
      path: `${prefix}${def.path}`,
    }));
  return [...rest, ...extra].sort(
    (a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method),
  );
}

/** The service's current body-accepting endpoints. */
export function currentBodyRoutes(): BodyRoute[] {
  return bodyRoutes(API_ROUTES);
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
