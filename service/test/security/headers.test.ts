import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.js';

const FRONT_END = 'https://app.example';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ CORS_ORIGINS: FRONT_END, TRUST_PROXY: 'true' });
});
afterAll(() => server.close());

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${server.baseUrl}${path}`, { headers });

/** The CSP as directive → sources, so tests do not depend on ordering. */
function csp(res: Response): Record<string, string[]> {
  const header = res.headers.get('content-security-policy') ?? '';
  return Object.fromEntries(
    header
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map(([name, ...sources]) => [name!, sources]),
  );
}

describe('security headers', () => {
  it('when the JSON API answers, then its CSP allows nothing to load, frame or submit', async () => {
    for (const res of [await get('/api/tags'), await get('/api/user'), await get('/api/nope')]) {
      expect(csp(res)).toEqual({
        'default-src': ["'none'"],
        'frame-ancestors': ["'none'"],
        'base-uri': ["'none'"],
        'form-action': ["'none'"],
      });
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('when a front end on another origin reads a response, then the resource policy lets it', async () => {
    const res = await get('/api/tags', { Origin: FRONT_END });
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
  });

  it('when the request came over plain HTTP, then no HSTS is sent', async () => {
    const res = await get('/api/tags');
    expect(res.headers.get('strict-transport-security')).toBeNull();
  });

  it('when the load balancer terminated TLS, then HSTS is sent', async () => {
    const res = await get('/api/tags', { 'X-Forwarded-Proto': 'https' });
    expect(res.headers.get('strict-transport-security')).toMatch(
      /^max-age=\d{7,}; includeSubDomains$/,
    );
  });

  it('when the Swagger UI and its assets load, then they get a same-origin CSP with no inline allowance', async () => {
    for (const path of ['/api/docs', '/api/docs/init.js', '/api/docs/swagger-ui.css']) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(csp(res)).toEqual({
        'default-src': ["'none'"],
        'frame-ancestors': ["'none'"],
        'base-uri': ["'none'"],
        'form-action': ["'none'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        'connect-src': ["'self'"],
      });
    }
    expect(csp(await get('/api/openapi.json'))['default-src']).toEqual(["'none'"]);
  });

  it('when the docs page is served, then every script and style is a same-origin file the CSP admits', async () => {
    const html = await (await get('/api/docs')).text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, inline] of scripts) {
      expect(attrs).toMatch(/src="\/api\/docs\//);
      expect(inline!.trim()).toBe('');
    }
    expect(html).not.toMatch(/<style\b|\sstyle=/);
    expect(html).toMatch(/<link rel="stylesheet" href="\/api\/docs\//);
  });
});

describe('CORS', () => {
  it('when an allow-listed origin calls, then its origin is echoed with credentials allowed', async () => {
    const res = await get('/api/tags', { Origin: FRONT_END });
    expect(res.headers.get('access-control-allow-origin')).toBe(FRONT_END);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('vary')).toMatch(/Origin/);
  });

  it('when an allow-listed origin sends a preflight, then the method and headers are allowed', async () => {
    const res = await fetch(`${server.baseUrl}/api/user`, {
      method: 'OPTIONS',
      headers: {
        Origin: FRONT_END,
        'Access-Control-Request-Method': 'PUT',
        'Access-Control-Request-Headers': 'authorization, content-type',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(FRONT_END);
    expect(res.headers.get('access-control-allow-methods')).toMatch(/PUT/);
    expect(res.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
  });

  it('when an origin not on the list calls or preflights, then no CORS grant is sent', async () => {
    const simple = await get('/api/tags', { Origin: 'https://evil.example' });
    const preflight = await fetch(`${server.baseUrl}/api/user`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'PUT' },
    });
    for (const res of [simple, preflight]) {
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    }
  });
});
