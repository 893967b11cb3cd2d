import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ BODY_LIMIT_BYTES: '2048' });
});
afterAll(() => server.close());

describe('error model', () => {
  it('when the JSON is malformed, then 400 with a field error and a request id', async () => {
    const res = await server.api.post('/users', {
      raw: '{"user": {',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: { body: ['is not valid JSON'] },
      requestId: res.headers.get('x-request-id'),
    });
  });

  it('when the body exceeds the configured limit, then 413', async () => {
    const res = await server.api.post('/users', { body: { user: { username: 'x'.repeat(5000) } } });
    expect(res.status).toBe(413);
    expect(res.body.errors).toEqual({ body: ['is too large'] });
  });

  it('when the body is not JSON, then 415', async () => {
    const res = await server.api.post('/users', {
      raw: 'user=x',
      headers: { 'Content-Type': 'text/plain' },
    });
    expect(res.status).toBe(415);
    expect(res.body.errors).toEqual({ body: ['must be application/json'] });
  });

  it('when the route does not exist, then a JSON 404', async () => {
    const res = await server.api.get('/no/such/route');
    expect(res.status).toBe(404);
    expect(res.body.errors).toEqual({ route: ['GET /api/no/such/route does not exist'] });
  });

  it('when the method is wrong, then 405 with Allow', async () => {
    const res = await server.api.request('PATCH', '/tags');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toContain('GET');
    expect(res.body.errors.method).toBeDefined();
  });

  it('when a browser preflights from another origin, then CORS allows the API headers', async () => {
    const res = await fetch(`${server.baseUrl}/api/articles`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization,content-type',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
  });

  it('when a real bug happens (a table is missing), then 500 with only a request id, and the log has the cause', async () => {
    await server.orm.em.fork().getConnection().execute('drop table article_tags');
    const res = await server.api.get('/tags');
    expect(res.status).toBe(500);
    const requestId = res.headers.get('x-request-id');
    expect(res.body).toEqual({ errors: { server: ['internal error'] }, requestId });
    expect(JSON.stringify(res.body)).not.toMatch(/article_tags|relation|select/i);
    const logged = server.logs.find(
      (l) => l.requestId === requestId && l.msg === 'unhandled error',
    );
    expect(JSON.stringify(logged)).toMatch(/article_tags/);
  });
});
