// The committed manifest infra's WAF reads must list exactly the endpoints that accept a body.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  BODY_ROUTES_MANIFEST,
  bodyRoutes,
  currentBodyRoutes,
  renderBodyRoutesManifest,
} from '../../src/body-routes.js';
import { route } from '../../src/http/routes.js';
import { z } from 'zod';

const repoRoot = join(import.meta.dirname, '..', '..', '..');

describe('body routes manifest', () => {
  it('when compared with the route table, then the committed manifest agrees (npm run routes:manifest)', () => {
    const committed = readFileSync(join(repoRoot, BODY_ROUTES_MANIFEST), 'utf8');
    expect(committed).toBe(renderBodyRoutesManifest(currentBodyRoutes()));
  });

  it('lists the article, comment and user writes and no body-less operation', () => {
    const routes = currentBodyRoutes();
    expect(routes).toEqual(
      expect.arrayContaining([
        { method: 'POST', path: '/api/articles' },
        { method: 'PUT', path: '/api/articles/{slug}' },
        { method: 'POST', path: '/api/articles/{slug}/comments' },
        { method: 'POST', path: '/api/users' },
        { method: 'PUT', path: '/api/user' },
      ]),
    );
    expect(routes).not.toContainEqual({ method: 'POST', path: '/api/articles/{slug}/favorite' });
  });

  it('when a non-REST endpoint (GraphQL, an upload) is declared, then it is listed too', () => {
    const def = route({
      method: 'post',
      path: '/things',
      operationId: 'createThing',
      summary: 's',
      tag: 't',
      auth: 'none',
      body: z.object({}),
      success: { status: 201, description: 'd' },
      handler: async () => ({}),
    });
    expect(bodyRoutes([def], '/api', [{ method: 'POST', path: '/graphql' }])).toEqual([
      { method: 'POST', path: '/api/things' },
      { method: 'POST', path: '/graphql' },
    ]);
  });
});
