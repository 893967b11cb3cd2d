import { describe, expect, it } from '@jest/globals';
import { graphqlRequest, OPERATIONS } from '../lib/graphql.ts';
import {
  articleList,
  commentCount,
  connection,
  graphqlArticleComments,
  graphqlTags,
  graphqlViewer,
  profile,
  singleArticle,
  user,
} from '../lib/shapes.ts';

const author = { username: 'ana', bio: '', image: '', following: true };
const article = {
  slug: 'tuning-pools',
  title: 'Tuning pools',
  description: 'd',
  tagList: ['postgres'],
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  favorited: false,
  favoritesCount: 0,
  author,
};
const ref = { slug: 'tuning-pools', author: 'ana', favorited: false, following: true };

describe('REST bodies', () => {
  it('reads lists, articles, comments, profiles and users', () => {
    expect(articleList({ articles: [article], articlesCount: 1 })).toEqual([ref]);
    expect(articleList({ articles: [], articlesCount: 0 })).toEqual([]);
    expect(singleArticle({ article: { ...article, body: '# x' } })).toEqual(ref);
    expect(commentCount({ comments: [{ id: 1, body: 'x', author }] })).toBe(1);
    expect(profile({ profile: author })).toEqual({ username: 'ana', following: true });
    expect(
      user({ user: { username: 'ana', email: 'a@b.c', token: 'jwt', bio: '', image: '' } }),
    ).toEqual({
      username: 'ana',
      token: 'jwt',
    });
  });

  it.each([
    undefined,
    'text',
    { errors: { body: ["can't be blank"] } },
    { articles: [article] }, // no articlesCount
    { articles: [{ ...article, author: null }], articlesCount: 1 },
  ])('a list that is not a list (%j) reads as undefined', (body) => {
    expect(articleList(body)).toBeUndefined();
  });

  it('an error body is never mistaken for an article, comments or a user', () => {
    const error = { errors: { slug: ['not found'] }, requestId: 'r' };
    expect(singleArticle(error)).toBeUndefined();
    expect(commentCount(error)).toBeUndefined();
    expect(user(error)).toBeUndefined();
    expect(profile({ profile: { username: 'ana' } })).toBeUndefined();
  });
});

// Bodies as the GraphQL contract (briefs/graphql-contract.md) describes them.
describe('GraphQL bodies', () => {
  const page = {
    totalCount: 30,
    pageInfo: { hasNextPage: true, endCursor: 'YXJ0aWNsZToxMA==' },
    edges: [{ cursor: 'c1', node: article }],
  };

  it('reads article and feed connections, with their paging', () => {
    expect(connection({ data: { articles: page } }, 'articles')).toEqual({
      articles: [ref],
      hasNextPage: true,
      endCursor: 'YXJ0aWNsZToxMA==',
    });
    const feed = { totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null }, edges: [] };
    expect(connection({ data: { feed } }, 'feed')).toEqual({
      articles: [],
      hasNextPage: false,
      endCursor: null,
    });
  });

  it('reads an article with comments, tags and the viewer', () => {
    const withComments = {
      ...article,
      body: 'b',
      comments: [{ id: 1, body: 'x', createdAt: 'c', author: { username: 'bo' } }],
    };
    expect(graphqlArticleComments({ data: { article: withComments } })).toBe(1);
    expect(graphqlArticleComments({ data: { article: null } })).toBeUndefined();
    expect(graphqlTags({ data: { tags: ['postgres', 'k6'] } })).toEqual(['postgres', 'k6']);
    expect(
      graphqlViewer({ data: { viewer: { username: 'ana', email: 'a@b.c', bio: '', image: '' } } }),
    ).toBe('ana');
    expect(graphqlViewer({ data: { viewer: null } })).toBeUndefined();
  });

  it('a response with errors reads as undefined even when it carries data', () => {
    const body = {
      data: { feed: null },
      errors: [{ message: 'sign in', extensions: { code: 'UNAUTHENTICATED' } }],
    };
    expect(connection(body, 'feed')).toBeUndefined();
    expect(graphqlTags({ data: { tags: [] }, errors: [{ message: 'x' }] })).toBeUndefined();
  });

  it('sends each operation by name with its variables', () => {
    expect(graphqlRequest('ArticlesPage', { first: 10, tag: 'k6' })).toEqual({
      query: OPERATIONS.ArticlesPage,
      variables: { first: 10, tag: 'k6' },
      operationName: 'ArticlesPage',
    });
    for (const [name, query] of Object.entries(OPERATIONS)) {
      expect(query.startsWith(`query ${name}`)).toBe(true);
    }
  });
});
