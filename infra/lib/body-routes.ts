/**
 * The API's body-accepting endpoints, from the manifest generated from the service's route table
 * (`npm run routes:manifest`; a service test keeps the two equal). The WAF scopes its body rules
 * to them, and the k6 runner learns from it whether the API serves GraphQL. No CDK import: the
 * release programs read it too.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BodyRoute } from './constructs/web-acl.js';

/** The committed manifest. */
export const BODY_ROUTES_FILE = join(
  dirname(fileURLToPath(import.meta.url)),
  'generated',
  'body-routes.json',
);

/** The body-accepting endpoints from the generated manifest. */
export function readBodyRoutes(file = BODY_ROUTES_FILE): BodyRoute[] {
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as { bodyRoutes?: BodyRoute[] };
  return manifest.bodyRoutes ?? [];
}

/** Whether this checkout's API serves GraphQL: its manifest lists `POST /graphql`. */
export function servesGraphql(file = BODY_ROUTES_FILE): boolean {
  return readBodyRoutes(file).some((r) => r.method === 'POST' && r.path === '/graphql');
}
