import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Account } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * The lean read path (docs/read-path.md): statements per list page with the cache off, HTTP
 * caching, and the stored HTML with its renderer version.
 */
let server: TestServer;
let statements: string[] = [];
let author: Account;
let reader: Account;

beforeAll(async () => {
  server = await startTestServer(
    { LOG_LEVEL: 'warn', CACHE_ENABLED: 'false' },
    { onQuery: (sql) => statements.push(sql) },
  );
  author = await server.register('rpauthor', 'author');
  reader = await server.register('rpreader');
  // 60 published articles with tags, some favorited by the reader, whose author they follow.
  await server.sql(
    `insert into articles (slug, title, description, body, status, author_id, favorites_count, created_at, updated_at)
     select 'rp-' || i, 'Title ' || i, 'D', 'Body *' || i || '*', 'published',
            (select id from users where username = ?), 0, now() - i * interval '1 minute', now()
     from generate_series(1, 60) i`,
    [author.username],
  );
  await server.sql(`insert into tags (name) values ('rp-a'), ('rp-b') on conflict do nothing`);
  await server.sql(
    `insert into article_tags (article_id, tag_id)
     select a.id, t.id from articles a cross join tags t where a.slug like 'rp-%' and t.name in ('rp-a', 'rp-b')`,
  );
  await server.sql(
    `insert into favorites (user_id, article_id, created_at)
     select (select id from users where username = ?), id, now() from articles where slug like 'rp-%' and id % 3 = 0`,
    [reader.username],
  );
  expect(
    (await server.api.post(`/profiles/${author.username}/follow`, { token: reader.token })).status,
  ).toBe(200);
}, 60_000);
afterAll(() => server.close());

/** The statements the app sent while `request` ran (the request's own; nothing else runs). */
async function counted<T>(request: () => Promise<T>): Promise<{ result: T; count: number }> {
  await request(); // warm: the per-process write-freeze lookup is cached after this
  statements = [];
  const result = await request();
  return { result, count: statements.length };
}

describe('statements per list page, cache off', () => {
  for (const limit of [10, 50]) {
    it(`when an anonymous visitor lists ${limit} articles, then at most 2 statements run`, async () => {
      const { result, count } = await counted(() => server.api.get(`/articles?limit=${limit}`));
      expect(result.status).toBe(200);
      expect(result.body.articles).toHaveLength(limit);
      expect(count).toBeLessThanOrEqual(2);
    });

    it(`when a signed-in reader lists ${limit} articles, then at most 3 statements run and their flags are theirs`, async () => {
      const { result, count } = await counted(() =>
        server.api.get(`/articles?limit=${limit}`, { token: reader.token }),
      );
      expect(result.status).toBe(200);
      const articles = result.body.articles as {
        favorited: boolean;
        tagList: string[];
        author: { following: boolean };
      }[];
      expect(articles).toHaveLength(limit);
      expect(articles.some((a) => a.favorited)).toBe(true);
      expect(articles.every((a) => a.author.following)).toBe(true);
      expect(articles.every((a) => a.tagList.join() === 'rp-a,rp-b')).toBe(true);
      expect(count).toBeLessThanOrEqual(3);
    });

    it(`when the reader pages their feed by ${limit}, then at most 3 statements run`, async () => {
      const { result, count } = await counted(() =>
        server.api.get(`/articles/feed?limit=${limit}`, { token: reader.token }),
      );
      expect(result.status).toBe(200);
      expect(result.body.articles).toHaveLength(limit);
      expect(count).toBeLessThanOrEqual(3);
    });
  }
});

describe('HTTP caching', () => {
  it('when an anonymous GET repeats with the ETag, then 304 without a body; the response is public', async () => {
    const first = await server.api.get('/articles/rp-1');
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(first.headers.get('cache-control')).toBe('public, no-cache');
    // Each credential once, after CORS's Origin: a shared cache keys the response on all three.
    expect(first.headers.get('vary')).toBe('Origin, Authorization, Cookie');
    const again = await server.api.get('/articles/rp-1', { headers: { 'If-None-Match': etag! } });
    expect(again.status).toBe(304);
    expect(again.body).toBeUndefined();
  });

  it('when a signed-in reader reads, then the response is private', async () => {
    const res = await server.api.get('/articles/rp-1', { token: reader.token });
    expect(res.headers.get('cache-control')).toBe('private, no-cache');
  });

  it('when the article changes, then the old ETag no longer matches', async () => {
    const first = await server.api.get('/articles/rp-2');
    await server.sql(`update articles set description = 'changed' where slug = 'rp-2'`);
    const after = await server.api.get('/articles/rp-2', {
      headers: { 'If-None-Match': first.headers.get('etag')! },
    });
    expect(after.status).toBe(200);
    expect(after.body.article.description).toBe('changed');
  });
});

describe('stored HTML', () => {
  it('when an article is written, then its HTML is stored with the renderer version', async () => {
    const created = await server.api.createArticle(author.token, { body: '# Hi *there*' });
    const [row] = await server.sql(
      'select body_html, body_html_version from articles where slug = ?',
      [created.slug],
    );
    expect(row).toEqual({ body_html: created.bodyHtml, body_html_version: 1 });
    expect(created.bodyHtml).toContain('<h1>');
  });

  it('when the stored HTML is missing or from another renderer, then a read renders the same HTML and stores it', async () => {
    const fresh = (await server.api.get('/articles/rp-3')).body.article;
    expect(fresh.bodyHtml).toBe('<p>Body <em>3</em></p>\n');
    await server.sql(
      `update articles set body_html = 'stale', body_html_version = 0 where slug = 'rp-3'`,
    );
    const reread = (await server.api.get('/articles/rp-3')).body.article;
    expect(reread).toEqual(fresh);
    const [row] = await server.sql(
      `select body_html, body_html_version from articles where slug = 'rp-3'`,
    );
    expect(row).toEqual({ body_html: fresh.bodyHtml, body_html_version: 1 });
  });
});
