/**
 * REST and GraphQL agree on a seeded data set, fetched both ways, anonymously and signed in:
 * every article, every comment list, every profile, and every filtered list (each tag, each
 * author, each user's favorites, the feed, drafts, and the whole list page by page). What is
 * compared is generated from the database, not picked by hand.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { DEMO_USER, seed } from '../../src/db/seed.js';
import { Passwords } from '../../src/modules/users/passwords.js';
import { graphql } from '../support/graphql.js';
import { report } from '../support/report.js';
import { startTestServer, type TestServer } from '../support/server.js';

// Hundreds of requests per test on a shared machine.
jest.setTimeout(60_000);

let server: TestServer;
let demoToken: string;
let slugs: string[];
let usernames: string[];
let tags: string[];

const VIEWERS = ['anonymous', 'signed in'] as const;
type Viewer = (typeof VIEWERS)[number];
const tokenOf = (viewer: Viewer) => (viewer === 'signed in' ? demoToken : undefined);

const PROFILE = 'username bio image following';
const ITEM = `slug title description tagList createdAt updatedAt favorited favoritesCount status author { ${PROFILE} }`;
const PAGE = `totalCount pageInfo { hasNextPage endCursor } nodes { ${ITEM} }`;

/** A GraphQL article as REST spells it (REST's status is lower-case). */
const asRest = <T extends { status?: string }>(node: T) =>
  node.status ? { ...node, status: node.status.toLowerCase() } : node;

async function gql(query: string, viewer: Viewer, variables: Record<string, unknown> = {}) {
  const res = await graphql(server.baseUrl, query, { token: tokenOf(viewer), variables });
  expect(res.body.errors).toBeUndefined();
  return res.body.data;
}

async function rest(path: string, viewer: Viewer) {
  const res = await server.api.get(path, { token: tokenOf(viewer) });
  return res;
}

/** Runs `check` for every item, a few at a time; returns how many were compared. */
async function each<T>(items: T[], check: (item: T) => Promise<void>): Promise<number> {
  for (let i = 0; i < items.length; i += 8) await Promise.all(items.slice(i, i + 8).map(check));
  return items.length;
}

beforeAll(async () => {
  server = await startTestServer();
  await seed(server.orm, {
    passwords: new Passwords(server.config),
    users: 10,
    articles: 30,
    comments: 120,
  });
  const login = await server.api.post('/users/login', {
    body: { user: { email: DEMO_USER.email, password: DEMO_USER.password } },
  });
  demoToken = login.body.user.token;
  // Drafts: the demo user's own, and someone else's (visible to nobody here).
  const other = await server.register('drafter');
  for (const [token, title] of [
    [demoToken, 'Demo draft'],
    [other.token, 'Hidden draft'],
  ] as const) {
    await server.api.post('/articles', {
      token,
      body: {
        article: { title, description: 'd', body: 'b', tagList: ['draft'], status: 'draft' },
      },
    });
  }
  slugs = (await server.sql<{ slug: string }>('select slug from articles order by slug')).map(
    (r) => r.slug,
  );
  usernames = (await server.sql<{ username: string }>('select username from users order by 1')).map(
    (r) => r.username,
  );
  tags = (await server.sql<{ name: string }>('select name from tags order by 1')).map(
    (r) => r.name,
  );
}, 120_000);

afterAll(async () => server?.close());

describe.each(VIEWERS)('REST and GraphQL agree, %s', (viewer) => {
  it('on every article and its comments (missing and hidden ones included)', async () => {
    const q = `query A($slug: String!) { article(slug: $slug) { ${ITEM} body bodyHtml
      comments { id body createdAt updatedAt author { ${PROFILE} } } } }`;
    const n = await each(slugs, async (slug) => {
      const [single, comments, data] = await Promise.all([
        rest(`/articles/${slug}`, viewer),
        rest(`/articles/${slug}/comments`, viewer),
        gql(q, viewer, { slug }),
      ]);
      if (single.status === 404) {
        expect({ slug, article: data.article }).toEqual({ slug, article: null });
        expect(comments.status).toBe(404);
        return;
      }
      const { comments: gqlComments, ...article } = data.article;
      expect(asRest(article)).toEqual(single.body.article);
      expect(gqlComments).toEqual(comments.body.comments);
    });
    report(`${viewer}: ${n} articles with their comments compared`);
  });

  it('on every profile', async () => {
    const q = `query P($u: String!) { profile(username: $u) { ${PROFILE} } }`;
    await each(usernames, async (username) => {
      const [res, data] = await Promise.all([
        rest(`/profiles/${encodeURIComponent(username)}`, viewer),
        gql(q, viewer, { u: username }),
      ]);
      expect(data.profile).toEqual(res.body.profile);
    });
  });

  it('on every filtered list: each tag, each author, each user’s favorites, drafts', async () => {
    const q = `query L($tag: String, $author: String, $favorited: String, $status: ArticleStatus) {
      articles(first: 100, tag: $tag, author: $author, favorited: $favorited, status: $status) { ${PAGE} } }`;
    const filters = [
      ...tags.map((tag) => ({ tag })),
      ...usernames.map((author) => ({ author })),
      ...usernames.map((favorited) => ({ favorited })),
      { status: 'DRAFT' },
    ];
    const n = await each(filters, async (filter) => {
      const params = Object.entries(filter).map(([k, v]) => [k, k === 'status' ? 'draft' : v]);
      const query = new URLSearchParams([...params, ['limit', '100']]);
      const [res, data] = await Promise.all([
        rest(`/articles?${query}`, viewer),
        gql(q, viewer, filter),
      ]);
      expect({ filter, count: data.articles.totalCount }).toEqual({
        filter,
        count: res.body.articlesCount,
      });
      expect(data.articles.nodes.map(asRest)).toEqual(res.body.articles);
    });
    report(`${viewer}: ${n} filtered lists compared`);
  });

  it('on the whole list, page by page (cursors against offsets)', async () => {
    const q = `query L($after: String) { articles(first: 20, after: $after) { ${PAGE} } }`;
    let after: string | null = null;
    for (let offset = 0; ; offset += 20) {
      const [res, data]: [{ body: any }, any] = await Promise.all([
        rest(`/articles?limit=20&offset=${offset}`, viewer),
        gql(q, viewer, { after }),
      ]);
      expect(data.articles.totalCount).toBe(res.body.articlesCount);
      expect(data.articles.nodes.map(asRest)).toEqual(res.body.articles);
      if (!data.articles.pageInfo.hasNextPage) {
        expect(offset + res.body.articles.length).toBe(res.body.articlesCount);
        break;
      }
      after = data.articles.pageInfo.endCursor;
    }
  });

  it('on the feed and tags', async () => {
    const tagsData = await gql('query { tags }', viewer);
    expect(tagsData.tags).toEqual((await rest('/tags', viewer)).body.tags);
    if (viewer === 'anonymous') return;
    const data = await gql(`query { feed(first: 100) { ${PAGE} } }`, viewer);
    const res = await rest('/articles/feed?limit=100', viewer);
    expect(data.feed.totalCount).toBe(res.body.articlesCount);
    expect(data.feed.totalCount).toBeGreaterThan(0);
    expect(data.feed.nodes.map(asRest)).toEqual(res.body.articles);
  });
});
