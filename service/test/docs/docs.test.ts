import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('API documentation', () => {
  it('when /api/openapi.json is fetched, then it is an OpenAPI 3.1 document of every RealWorld operation and ours', async () => {
    const res = await fetch(`${server.baseUrl}/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as any;
    expect(doc.openapi).toBe('3.1.0');
    const ops = Object.values(doc.paths).flatMap((p: any) =>
      Object.values(p).map((o: any) => o.operationId),
    );
    expect(ops).toEqual(
      expect.arrayContaining([
        'Login',
        'CreateUser',
        'GetCurrentUser',
        'UpdateCurrentUser',
        'GetProfileByUsername',
        'FollowUserByUsername',
        'UnfollowUserByUsername',
        'GetArticlesFeed',
        'GetArticles',
        'CreateArticle',
        'GetArticle',
        'UpdateArticle',
        'DeleteArticle',
        'GetArticleComments',
        'CreateArticleComment',
        'DeleteArticleComment',
        'CreateArticleFavorite',
        'DeleteArticleFavorite',
        'GetTags',
        'CreateSession',
        'AdminListUsers',
      ]),
    );
    expect(
      doc.paths['/articles'].get.parameters.find((p: any) => p.name === 'limit').schema,
    ).toMatchObject({
      type: 'integer',
      maximum: 100,
    });
  });

  it('when /api/docs is opened, then a Swagger UI page loads its assets from this server', async () => {
    const page = await fetch(`${server.baseUrl}/api/docs`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('/api/docs/swagger-ui-bundle.js');
    for (const asset of ['swagger-ui-bundle.js', 'swagger-ui.css', 'init.js']) {
      const res = await fetch(`${server.baseUrl}/api/docs/${asset}`);
      expect(res.status).toBe(200);
      expect((await res.text()).length).toBeGreaterThan(50);
    }
    expect((await fetch(`${server.baseUrl}/api/docs/..%2Fpackage.json`)).status).toBe(404);
  });
});
