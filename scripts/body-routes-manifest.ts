/**
 * `npm run routes:manifest`: writes the API's body-accepting endpoints to the manifest infra reads
 * for its WAF scoping (service/src/body-routes.ts). Run it after adding a route that takes a body;
 * `npm test` fails until the committed manifest matches the route table.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BODY_ROUTES_MANIFEST,
  currentBodyRoutes,
  renderBodyRoutesManifest,
} from '../service/src/body-routes.js';

const routes = currentBodyRoutes();
writeFileSync(
  join(import.meta.dirname, '..', BODY_ROUTES_MANIFEST),
  renderBodyRoutesManifest(routes),
);
console.log(`${BODY_ROUTES_MANIFEST}: ${routes.length} body-accepting endpoints`);
