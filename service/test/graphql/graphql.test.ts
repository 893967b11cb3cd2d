/**
 * Every GraphQL query and mutation against the real service (PostgreSQL, Redis), with its error
 * cases: the same feature services as REST answer, so the rules are REST's; what is checked here
 * is the GraphQL side of them (shapes, codes, typed validation errors, credentials, limits).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GraphQLError } from 'graphql';
import { toClientError } from '../../src/graphql/errors.js';
import type { Account } from '../support/client.js';
import { errorCodes, graphql, type GraphqlOptions } from '../support/graphql.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startSession } from '../support/sessions.js';

let server: TestServer;
let alice: Account; // author
let bob: Account; // author
let viewer: Account; // role viewer: may not write articles

const gql = (query: string, options?: GraphqlOptions) => graphql(server.baseUrl, query, options);

const ARTICLE_FIELDS = `slug title description body bodyHtml tagList createdAt updatedAt favorited
  favoritesCount status author { username bio image following }`;

const CREATE = `mutation Create($input: CreateArticleInput!) {
  createArticle(input: $input) {
    __typename
    ... on Article { ${ARTICLE_FIELDS} }
    ... on ValidationError { message fields { field messages } }
  }
}`;

async function createArticle(token: string, input: Record<string, unknown>) {
  const res = await gql(CREATE, {
    token,
    variables: { input: { description: 'About it', body: '# Body\n\ntext', ...input } },
  });
  expect(res.body.errors).toBeUndefined();
  return res.body.data.createArticle;
}

beforeAll(async () => {
  server = await startTestServer();
  [alice, bob, viewer] = await Promise.all([
    server.register('alice'),
    server.register('bob'),
    server.register('viewer', 'viewer'),
  ]);
}, 60_000);

afterAll(async () => server?.close());

describe('queries', () => {
  it('viewer is the signed-in user, and null anonymously', async () => {
    const q = 'query { viewer { username email bio image role } }';
    expect((await gql(q)).body).toEqual({ data: { viewer: null } });
    const res = await gql(q, { token: alice.token });
    expect(res.body.data.viewer).toEqual({
      username: alice.username,
      email: alice.email,
      bio: '',
      image: '',
      role: 'AUTHOR',
    });
  });

  it('profile says whether the viewer follows; an unknown username is null', async () => {
    const q = 'query P($u: String!) { profile(username: $u) { username bio image following } }';
    await server.api.post(`/profiles/${bob.username}/follow`, { token: alice.token });
    const signedIn = await gql(q, { token: alice.token, variables: { u: bob.username } });
    expect(signedIn.body.data.profile).toEqual({
      username: bob.username,
      bio: '',
      image: '',
      following: true,
    });
    const anonymous = await gql(q, { variables: { u: bob.username } });
    expect(anonymous.body.data.profile.following).toBe(false);
    expect((await gql(q, { variables: { u: 'nobody-at-all' } })).body).toEqual({
      data: { profile: null },
    });
  });

  it('article has its body, rendered HTML, comments and author; unknown slugs and other people’s drafts are null', async () => {
    const article = await createArticle(bob.token, { title: 'Readable', tagList: ['b', 'a'] });
    await server.api.post(`/articles/${article.slug}/comments`, {
      token: alice.token,
      body: { comment: { body: 'First!' } },
    });
    const q = `query A($slug: String!) { article(slug: $slug) { ${ARTICLE_FIELDS}
      comments { id body createdAt updatedAt author { username following } } } }`;
    const res = await gql(q, { token: alice.token, variables: { slug: article.slug } });
    expect(res.body.errors).toBeUndefined();
    const got = res.body.data.article;
    expect(got).toMatchObject({
      slug: article.slug,
      body: '# Body\n\ntext',
      bodyHtml: '<h1>Body</h1>\n<p>text</p>\n',
      tagList: ['a', 'b'],
      status: 'PUBLISHED',
      author: { username: bob.username, following: true },
    });
    expect(got.comments).toEqual([
      {
        id: expect.any(Number),
        body: 'First!',
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        author: { username: alice.username, following: false },
      },
    ]);
    expect((await gql(q, { variables: { slug: 'no-such-article' } })).body.data).toEqual({
      article: null,
    });
    const draft = await createArticle(bob.token, { title: 'Secret draft', status: 'DRAFT' });
    expect(draft.status).toBe('DRAFT');
    const others = await gql(q, { token: alice.token, variables: { slug: draft.slug } });
    expect(others.body.data.article).toBeNull();
    const own = await gql(q, { token: bob.token, variables: { slug: draft.slug } });
    expect(own.body.data.article.status).toBe('DRAFT');
  });

  it('articles pages through the list with cursors, in REST order, with REST’s filters', async () => {
    for (let i = 0; i < 5; i += 1) {
      await createArticle(alice.token, { title: `Paged ${i}`, tagList: ['paged'] });
    }
    const q = `query L($first: Int!, $after: String, $tag: String, $author: String, $favorited: String) {
      articles(first: $first, after: $after, tag: $tag, author: $author, favorited: $favorited) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { slug body } }
        nodes { slug }
      } }`;
    const rest = await server.api.get('/articles?tag=paged&limit=100');
    const slugs: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const res = await gql(q, { variables: { first: 2, after, tag: 'paged' } });
      expect(res.body.errors).toBeUndefined();
      const page = res.body.data.articles;
      expect(page.totalCount).toBe(5);
      expect(page.pageInfo.hasPreviousPage).toBe(pages > 0);
      expect(page.nodes.map((n: { slug: string }) => n.slug)).toEqual(
        page.edges.map((e: { node: { slug: string } }) => e.node.slug),
      );
      // List items carry no body in REST; here `body` is loaded for the page in one batch.
      for (const edge of page.edges) expect(edge.node.body).toBe('# Body\n\ntext');
      slugs.push(...page.edges.map((e: { node: { slug: string } }) => e.node.slug));
      pages += 1;
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(pages).toBe(3);
    expect(slugs).toEqual(rest.body.articles.map((a: { slug: string }) => a.slug));

    const byAuthor = await gql(q, { variables: { first: 100, author: bob.username } });
    expect(byAuthor.body.data.articles.totalCount).toBe(
      (await server.api.get(`/articles?author=${bob.username}`)).body.articlesCount,
    );
    await server.api.post(`/articles/${slugs[0]}/favorite`, { token: bob.token });
    const favorited = await gql(q, { variables: { first: 100, favorited: bob.username } });
    expect(favorited.body.data.articles.nodes).toEqual([{ slug: slugs[0] }]);
  });

  it('articles(status: DRAFT) lists only your own drafts', async () => {
    const q = 'query { articles(status: DRAFT, first: 100) { totalCount nodes { slug status } } }';
    const own = await gql(q, { token: bob.token });
    expect(own.body.data.articles.nodes.length).toBeGreaterThan(0);
    for (const node of own.body.data.articles.nodes) expect(node.status).toBe('DRAFT');
    expect((await gql(q, { token: alice.token })).body.data.articles.totalCount).toBe(0);
    expect((await gql(q)).body.data.articles.totalCount).toBe(0);
  });

  it('a page size outside 1–100 or a cursor the API never gave out is BAD_USER_INPUT with the field named', async () => {
    const q =
      'query L($first: Int, $after: String) { articles(first: $first, after: $after) { totalCount } }';
    for (const first of [0, 101]) {
      const res = await gql(q, { variables: { first } });
      expect(res.body.data).toEqual({ articles: null });
      expect(errorCodes(res)).toEqual(['BAD_USER_INPUT']);
      expect(Object.keys(res.body.errors![0]!.extensions!.fields!)).toEqual(['first']);
    }
    const bad = await gql(q, { variables: { first: 5, after: 'not-a-cursor' } });
    expect(errorCodes(bad)).toEqual(['BAD_USER_INPUT']);
    expect(bad.body.errors![0]!.extensions!.fields).toEqual({
      after: ['is not a cursor this API gave out'],
    });
  });

  it('feed has the articles of followed authors; anonymously it is UNAUTHENTICATED', async () => {
    const q = 'query { feed(first: 100) { totalCount nodes { author { username following } } } }';
    const res = await gql(q, { token: alice.token });
    expect(res.body.data.feed.totalCount).toBeGreaterThan(0);
    for (const node of res.body.data.feed.nodes) {
      expect(node.author).toEqual({ username: bob.username, following: true });
    }
    const anonymous = await gql(q);
    expect(anonymous.body.data).toEqual({ feed: null });
    expect(errorCodes(anonymous)).toEqual(['UNAUTHENTICATED']);
  });

  it('tags are the tags in use, most used first, as REST lists them', async () => {
    const all = await gql('query { tags }');
    expect(all.body.data.tags).toEqual((await server.api.get('/tags')).body.tags);
    const two = await gql('query { tags(first: 2) }');
    expect(two.body.data.tags).toEqual(all.body.data.tags.slice(0, 2));
    expect(errorCodes(await gql('query { tags(first: 0) }'))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('mutations', () => {
  const AUTH = `{ __typename ... on AuthPayload { token user { username email role } }
    ... on ValidationError { fields { field messages } } }`;

  it('register gives a token that works; a taken email and username are a typed ValidationError naming both', async () => {
    const q = `mutation R($input: RegisterInput!) { register(input: $input) ${AUTH} }`;
    const input = {
      username: `gq${Date.now()}`,
      email: `gq${Date.now()}@example.com`,
      password: 'long enough password',
    };
    const res = await gql(q, { variables: { input } });
    expect(res.body.data.register).toMatchObject({
      __typename: 'AuthPayload',
      user: { username: input.username, email: input.email, role: 'AUTHOR' },
    });
    const me = await gql('query { viewer { username } }', { token: res.body.data.register.token });
    expect(me.body.data.viewer.username).toBe(input.username);

    const again = await gql(q, { variables: { input } });
    expect(again.body.data.register).toEqual({
      __typename: 'ValidationError',
      fields: [
        { field: 'email', messages: ['has already been taken'] },
        { field: 'username', messages: ['has already been taken'] },
      ],
    });
    const invalid = await gql(q, {
      variables: { input: { username: 'x/y', email: 'nope', password: 'short' } },
    });
    expect(invalid.body.data.register.__typename).toBe('ValidationError');
    expect(invalid.body.data.register.fields.map((f: { field: string }) => f.field).sort()).toEqual(
      ['email', 'password', 'username'],
    );
  });

  it('login exchanges credentials for a token; wrong ones are UNAUTHENTICATED', async () => {
    const q = `mutation L($input: LoginInput!) { login(input: $input) ${AUTH} }`;
    const ok = await gql(q, {
      variables: { input: { email: alice.email.toUpperCase(), password: alice.password } },
    });
    expect(ok.body.data.login.user.username).toBe(alice.username);
    const wrong = await gql(q, {
      variables: { input: { email: alice.email, password: 'wrong password' } },
    });
    expect(wrong.body.data).toEqual({ login: null });
    expect(errorCodes(wrong)).toEqual(['UNAUTHENTICATED']);
    expect(wrong.body.errors![0]!.message).toBe('email or password is invalid');
  });

  it('updateUser changes the given fields; an unsafe image URL is a ValidationError; anonymously UNAUTHENTICATED', async () => {
    const account = await server.register('upd');
    const q = `mutation U($input: UpdateUserInput!) { updateUser(input: $input) {
      __typename ... on User { username bio image } ... on ValidationError { fields { field messages } } } }`;
    const ok = await gql(q, {
      token: account.token,
      variables: { input: { bio: 'Hello', image: 'https://example.com/a.png' } },
    });
    expect(ok.body.data.updateUser).toEqual({
      __typename: 'User',
      username: account.username,
      bio: 'Hello',
      image: 'https://example.com/a.png',
    });
    const bad = await gql(q, {
      token: account.token,
      variables: { input: { image: 'javascript:alert(1)' } },
    });
    expect(bad.body.data.updateUser).toEqual({
      __typename: 'ValidationError',
      fields: [{ field: 'image', messages: ['must be an http(s) URL'] }],
    });
    const empty = await gql(q, { token: account.token, variables: { input: {} } });
    expect(empty.body.data.updateUser.__typename).toBe('ValidationError');
    expect(errorCodes(await gql(q, { variables: { input: { bio: 'x' } } }))).toEqual([
      'UNAUTHENTICATED',
    ]);
  });

  it('followUser and unfollowUser; following yourself is a ValidationError, an unknown user NOT_FOUND', async () => {
    const follow = `mutation F($u: String!) { followUser(username: $u) {
      __typename ... on Profile { username following } ... on ValidationError { fields { field messages } } } }`;
    const unfollow =
      'mutation U($u: String!) { unfollowUser(username: $u) { username following } }';
    const res = await gql(follow, { token: viewer.token, variables: { u: alice.username } });
    expect(res.body.data.followUser).toEqual({
      __typename: 'Profile',
      username: alice.username,
      following: true,
    });
    const un = await gql(unfollow, { token: viewer.token, variables: { u: alice.username } });
    expect(un.body.data.unfollowUser).toEqual({ username: alice.username, following: false });
    const self = await gql(follow, { token: viewer.token, variables: { u: viewer.username } });
    expect(self.body.data.followUser).toEqual({
      __typename: 'ValidationError',
      fields: [{ field: 'profile', messages: ['cannot follow yourself'] }],
    });
    const missing = await gql(follow, { token: viewer.token, variables: { u: 'nobody-here' } });
    expect(errorCodes(missing)).toEqual(['NOT_FOUND']);
    expect(errorCodes(await gql(unfollow, { variables: { u: alice.username } }))).toEqual([
      'UNAUTHENTICATED',
    ]);
  });

  it('createArticle: typed ValidationError for bad input, FORBIDDEN for a role that may not write', async () => {
    const created = await createArticle(alice.token, {
      title: 'Made by GraphQL',
      tagList: ['gq', 'gq'],
    });
    expect(created).toMatchObject({
      __typename: 'Article',
      title: 'Made by GraphQL',
      tagList: ['gq'],
      status: 'PUBLISHED',
      favorited: false,
      author: { username: alice.username },
    });
    const rest = await server.api.get(`/articles/${created.slug}`);
    expect(rest.body.article.title).toBe('Made by GraphQL');

    const invalid = await createArticle(alice.token, { title: '  ', tagList: Array(21).fill('t') });
    expect(invalid.__typename).toBe('ValidationError');
    expect(invalid.fields.map((f: { field: string }) => f.field).sort()).toEqual([
      'tagList',
      'title',
    ]);

    const forbidden = await gql(CREATE, {
      token: viewer.token,
      variables: { input: { title: 'No', description: 'd', body: 'b' } },
    });
    expect(errorCodes(forbidden)).toEqual(['FORBIDDEN']);
    expect(
      errorCodes(
        await gql(CREATE, { variables: { input: { title: 'x', description: 'd', body: 'b' } } }),
      ),
    ).toEqual(['UNAUTHENTICATED']);
  });

  it('updateArticle: the author changes it (new title, new slug); someone else is FORBIDDEN; nothing to change is a ValidationError', async () => {
    const article = await createArticle(alice.token, { title: 'Before' });
    const q = `mutation U($slug: String!, $input: UpdateArticleInput!) { updateArticle(slug: $slug, input: $input) {
      __typename ... on Article { slug title tagList } ... on ValidationError { fields { field messages } } } }`;
    const ok = await gql(q, {
      token: alice.token,
      variables: { slug: article.slug, input: { title: 'After', tagList: ['new'] } },
    });
    expect(ok.body.data.updateArticle).toMatchObject({
      __typename: 'Article',
      title: 'After',
      tagList: ['new'],
    });
    const slug = ok.body.data.updateArticle.slug;
    expect(slug).not.toBe(article.slug);
    const other = await gql(q, { token: bob.token, variables: { slug, input: { title: 'Mine' } } });
    expect(errorCodes(other)).toEqual(['FORBIDDEN']);
    const nothing = await gql(q, { token: alice.token, variables: { slug, input: {} } });
    expect(nothing.body.data.updateArticle.__typename).toBe('ValidationError');
    const missing = await gql(q, {
      token: alice.token,
      variables: { slug: 'gone-away', input: { title: 'x' } },
    });
    expect(errorCodes(missing)).toEqual(['NOT_FOUND']);
  });

  it('favoriteArticle and unfavoriteArticle count once per user; a draft cannot be favorited', async () => {
    const article = await createArticle(alice.token, { title: 'Likeable' });
    const fav =
      'mutation F($s: String!) { favoriteArticle(slug: $s) { favorited favoritesCount } }';
    const unfav =
      'mutation U($s: String!) { unfavoriteArticle(slug: $s) { favorited favoritesCount } }';
    await gql(fav, { token: bob.token, variables: { s: article.slug } });
    const twice = await gql(fav, { token: bob.token, variables: { s: article.slug } });
    expect(twice.body.data.favoriteArticle).toEqual({ favorited: true, favoritesCount: 1 });
    const un = await gql(unfav, { token: bob.token, variables: { s: article.slug } });
    expect(un.body.data.unfavoriteArticle).toEqual({ favorited: false, favoritesCount: 0 });
    const draft = await createArticle(alice.token, { title: 'Draft to like', status: 'DRAFT' });
    expect(
      errorCodes(await gql(fav, { token: alice.token, variables: { s: draft.slug } })),
    ).toEqual(['FORBIDDEN']);
    expect(errorCodes(await gql(fav, { token: bob.token, variables: { s: 'no-such' } }))).toEqual([
      'NOT_FOUND',
    ]);
  });

  it('addComment and deleteComment: blank is a ValidationError; only the author (or an editor) deletes', async () => {
    const article = await createArticle(alice.token, { title: 'Discussed' });
    const add = `mutation A($s: String!, $b: String!) { addComment(slug: $s, body: $b) {
      __typename ... on Comment { id body author { username } } ... on ValidationError { fields { field messages } } } }`;
    const del = 'mutation D($s: String!, $id: Int!) { deleteComment(slug: $s, id: $id) }';
    const added = await gql(add, { token: bob.token, variables: { s: article.slug, b: 'Nice' } });
    const comment = added.body.data.addComment;
    expect(comment).toMatchObject({
      __typename: 'Comment',
      body: 'Nice',
      author: { username: bob.username },
    });
    const blank = await gql(add, { token: bob.token, variables: { s: article.slug, b: '   ' } });
    expect(blank.body.data.addComment).toEqual({
      __typename: 'ValidationError',
      fields: [{ field: 'body', messages: ["can't be blank"] }],
    });
    expect(
      errorCodes(await gql(add, { token: bob.token, variables: { s: 'nope', b: 'x' } })),
    ).toEqual(['NOT_FOUND']);
    const notYours = await gql(del, {
      token: alice.token,
      variables: { s: article.slug, id: comment.id },
    });
    expect(errorCodes(notYours)).toEqual(['FORBIDDEN']);
    const ok = await gql(del, { token: bob.token, variables: { s: article.slug, id: comment.id } });
    expect(ok.body.data).toEqual({ deleteComment: true });
    const again = await gql(del, {
      token: bob.token,
      variables: { s: article.slug, id: comment.id },
    });
    expect(errorCodes(again)).toEqual(['NOT_FOUND']);
  });

  it('deleteArticle removes it for good; someone else’s is FORBIDDEN', async () => {
    const article = await createArticle(alice.token, { title: 'Short-lived' });
    const del = 'mutation D($s: String!) { deleteArticle(slug: $s) }';
    expect(
      errorCodes(await gql(del, { token: bob.token, variables: { s: article.slug } })),
    ).toEqual(['FORBIDDEN']);
    expect(
      (await gql(del, { token: alice.token, variables: { s: article.slug } })).body.data,
    ).toEqual({
      deleteArticle: true,
    });
    expect((await server.api.get(`/articles/${article.slug}`)).status).toBe(404);
  });

  it('during the write freeze a write is SERVICE_UNAVAILABLE with a retry hint, reads go on', async () => {
    const admin = await server.register('admin', 'admin');
    const freeze = (on: boolean) =>
      server.api.put('/admin/maintenance', {
        token: admin.token,
        body: { maintenance: { writeFreeze: on } },
      });
    expect((await freeze(true)).status).toBe(200);
    try {
      // The freeze is cached for 2 s per process.
      await new Promise((r) => setTimeout(r, 2100));
      const res = await gql(CREATE, {
        token: alice.token,
        variables: { input: { title: 'Frozen', description: 'd', body: 'b' } },
      });
      expect(errorCodes(res)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(res.body.errors![0]!.extensions!.retryAfterSeconds).toEqual(expect.any(Number));
      expect((await gql('query { tags }')).body.errors).toBeUndefined();
    } finally {
      await freeze(false);
      await new Promise((r) => setTimeout(r, 2100));
    }
  });
});

describe('credentials', () => {
  it('an invalid token is UNAUTHENTICATED on fields that look at the viewer; tags ignore it', async () => {
    const res = await gql('query { viewer { username } }', { token: `${alice.token}x` });
    expect(errorCodes(res)).toEqual(['UNAUTHENTICATED']);
    const tags = await gql('query { tags }', { token: `${alice.token}x` });
    expect(tags.body.errors).toBeUndefined();
  });

  it('a session cookie works for queries without the CSRF token; a mutation needs it', async () => {
    const session = await startSession(server, alice);
    const cookie = { Cookie: session.cookie };
    const me = await gql('query { viewer { username } }', { headers: cookie });
    expect(me.body.data.viewer.username).toBe(alice.username);
    const q =
      'mutation { updateUser(input: { bio: "via cookie" }) { __typename ... on User { bio } } }';
    const refused = await gql(q, { headers: cookie });
    expect(errorCodes(refused)).toEqual(['FORBIDDEN']);
    expect(refused.body.errors![0]!.extensions!.fields).toEqual({
      csrf: ['is missing or wrong (send the X-CSRF-Token header)'],
    });
    const ok = await gql(q, { headers: { ...cookie, 'X-CSRF-Token': session.csrf } });
    expect(ok.body.data.updateUser).toEqual({ __typename: 'User', bio: 'via cookie' });
  });
});

describe('transport and protection', () => {
  it('a body that is not JSON is 415, a too-deep JSON body 400, before any GraphQL work', async () => {
    const text = await fetch(`${server.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/graphql' },
      body: '{ tags }',
    });
    expect(text.status).toBe(415);
    const deep = await fetch(`${server.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: `{"query":"{ tags }","variables":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}`,
    });
    expect(deep.status).toBe(400);
    expect(await deep.json()).toMatchObject({
      errors: { body: [expect.stringContaining('deeper than 32')] },
    });
  });

  it('GET serves queries, never mutations', async () => {
    const get = await fetch(
      `${server.baseUrl}/graphql?query=${encodeURIComponent('{ tags(first: 1) }')}`,
      {
        headers: { Accept: 'application/json' },
      },
    );
    expect(get.status).toBe(200);
    expect((await get.json()).data.tags).toHaveLength(1);
    const mutation = await fetch(
      `${server.baseUrl}/graphql?query=${encodeURIComponent('mutation { deleteArticle(slug: "x") }')}`,
      { headers: { Accept: 'application/json' } },
    );
    expect(mutation.status).toBe(405);
  });

  it('outside production the explorer (GraphiQL) is served and introspection answers', async () => {
    const page = await fetch(`${server.baseUrl}/graphql`, { headers: { Accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('GraphiQL');
    expect(page.headers.get('content-security-policy')).toContain(
      "script-src 'self' 'unsafe-inline'",
    );
    const intro = await gql('query { __schema { queryType { name } } }');
    expect(intro.body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });

  it('an unexpected error is "Unexpected error." with the request id: no stack trace, no SQL', () => {
    const logged: unknown[] = [];
    const sqlError = Object.assign(new Error('relation "articles" does not exist'), {
      sql: 'select * from articles',
    });
    const error = toClientError(
      new GraphQLError(sqlError.message, { originalError: sqlError, path: ['articles'] }),
      'req-1',
      (err) => logged.push(err),
    );
    expect(error.toJSON()).toEqual({
      message: 'Unexpected error.',
      path: ['articles'],
      extensions: { requestId: 'req-1', code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(logged).toEqual([sqlError]);
  });
});

describe('in production', () => {
  let prod: TestServer;
  beforeAll(async () => {
    prod = await startTestServer({ NODE_ENV: 'production' });
  }, 60_000);
  afterAll(async () => prod?.close());

  it('introspection is refused, field suggestions are not given, and no explorer is served', async () => {
    const intro = await graphql(prod.baseUrl, 'query { __schema { queryType { name } } }');
    expect(intro.status).toBe(400);
    expect(intro.body.errors![0]!.message).toContain('introspection');
    const typo = await graphql(prod.baseUrl, 'query { tagz }');
    expect(typo.body.errors![0]!.message).not.toContain('Did you mean');
    const page = await fetch(`${prod.baseUrl}/graphql`, { headers: { Accept: 'text/html' } });
    expect(await page.text()).not.toContain('GraphiQL');
  });
});
