/**
 * What a GraphQL document costs the database, counted in SQL statements (every statement the
 * ORM sends, through its `onQuery` hook), with the cache off: a page of articles with authors,
 * tags and the viewer's favorite/follow state runs the same few statements at any page size, and
 * documents over the depth, cost or alias limits are refused before any statement runs.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { OPERATIONS } from '../../../loadtests/lib/graphql.js';
import { GRAPHQL_LIMITS } from '../../src/graphql/endpoint.js';
import type { Account } from '../support/client.js';
import { graphql, type GraphqlOptions } from '../support/graphql.js';
import { report } from '../support/report.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let reader: Account;
let statements: string[] = [];

/**
 * The statements one request runs. The write-freeze switch (`settings`) is cached for 2 s per
 * process, so whether a request reads it depends on the clock, not on the request: it is left out.
 */
async function counted(query: string, options: GraphqlOptions = {}) {
  statements = [];
  const res = await graphql(server.baseUrl, query, options);
  return { res, statements: statements.filter((sql) => !/\bsettings\b/.test(sql)) };
}

beforeAll(async () => {
  server = await startTestServer({ CACHE_ENABLED: 'false' });
  server.orm.config.set('onQuery', (sql: string) => {
    statements.push(sql);
    return sql;
  });
  const authors = await Promise.all([1, 2, 3, 4, 5].map(() => server.register('author')));
  reader = await server.register('reader');
  for (const [i, author] of authors.entries()) {
    if (i % 2 === 0)
      await server.api.post(`/profiles/${author.username}/follow`, { token: reader.token });
    for (let j = 0; j < 12; j += 1) {
      const article = await server.api.createArticle(author.token, {
        title: `Cost ${i}-${j}`,
        tagList: [`t${j % 4}`, `u${i}`],
      });
      if (j % 3 === 0) {
        await server.api.post(`/articles/${article.slug}/favorite`, { token: reader.token });
      }
    }
  }
}, 120_000);

afterAll(async () => server?.close());

describe('the article list page costs the same statements at any page size', () => {
  it.each([
    ['anonymously', false],
    ['signed in (favorited, following)', true],
  ])(
    '%s: first=10 and first=50 run the same number of statements, at most 3',
    async (_name, signedIn) => {
      const token = signedIn ? reader.token : undefined;
      // What authenticating the token costs any request, REST's included (the user's row).
      const { statements: auth } = await counted('query { viewer { username } }', { token });
      const counts: number[] = [];
      for (const first of [10, 50]) {
        const { res, statements: run } = await counted(OPERATIONS.ArticlesPage, {
          token,
          variables: { first },
        });
        expect(res.body.errors).toBeUndefined();
        const edges = res.body.data.articles.edges;
        expect(edges).toHaveLength(first);
        if (signedIn) {
          expect(edges.some((e: { node: { favorited: boolean } }) => e.node.favorited)).toBe(true);
          expect(
            edges.some(
              (e: { node: { author: { following: boolean } } }) => e.node.author.following,
            ),
          ).toBe(true);
        }
        counts.push(run.length);
      }
      const page = counts.map((n) => n - auth.length);
      report(
        `ArticlesPage ${signedIn ? 'signed in' : 'anonymous'}: first=10 → ${page[0]} statements ` +
          `for the page, first=50 → ${page[1]} (plus ${auth.length} authenticating the token)`,
      );
      expect(counts[1]).toBe(counts[0]);
      // At most 3 in all, the token's user row included.
      expect(counts[0]).toBeLessThanOrEqual(3);
    },
  );

  it('bodies and comments of a page are batched: one set of statements per field, not per article', async () => {
    const q = `query P($first: Int!) { articles(first: $first) { nodes { body comments { body author { username } } } } }`;
    const sizes: number[] = [];
    for (const first of [2, 20]) {
      const { res, statements: run } = await counted(q, {
        token: reader.token,
        variables: { first },
      });
      expect(res.body.errors).toBeUndefined();
      sizes.push(run.length);
    }
    expect(sizes[1]).toBe(sizes[0]);
  });
});

describe('refused before execution, without a statement', () => {
  const nested = (levels: number) => {
    let selection = 'username';
    for (let i = 0; i < levels; i += 1)
      selection = `articles(first: 1) { nodes { author { ${selection} } } }`;
    return `query { profile(username: "x") { ${selection} } }`;
  };

  it.each([
    ['too deep', nested(3), /depth/i],
    [
      'too costly',
      'query { articles(first: 100) { nodes { comments { author { username bio image following } } } } }',
      /complexity/i,
    ],
    [
      'alias-flooded',
      `query { ${Array.from({ length: GRAPHQL_LIMITS.maxAliases + 1 }, (_, i) => `t${i}: tags`).join(' ')} }`,
      /aliases/i,
    ],
  ])('%s', async (_name, query, message) => {
    const { res, statements: run } = await counted(query, { token: reader.token });
    // Limits checked at validation refuse the document; the cost check (it depends on the
    // variables) runs before the first resolver and leaves every root field null.
    expect(Object.values(res.body.data ?? {}).every((v) => v === null)).toBe(true);
    expect(res.body.errors![0]!.message).toMatch(message);
    // Nothing at all, not even the write-freeze switch.
    expect(run).toEqual([]);
    expect(statements).toEqual([]);
  });

  it('a batch over the limit is refused whole', async () => {
    const batch = Array.from({ length: GRAPHQL_LIMITS.maxBatch + 1 }, () => ({
      query: '{ tags }',
    }));
    statements = [];
    const res = await fetch(`${server.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(batch),
    });
    expect(res.status).toBe(413);
    expect(statements).toEqual([]);
  });
});
