/**
 * Reading API responses: each function returns the part of a body a journey goes on with, or
 * undefined when the body does not have the documented shape (which fails the step's check).
 * Pure.
 */
import { graphqlField } from './graphql.ts';

/** An article as a journey remembers it. */
export interface ArticleRef {
  slug: string;
  author: string;
  favorited: boolean;
  following: boolean;
}

export interface Profile {
  username: string;
  following: boolean;
}

export interface Page {
  articles: ArticleRef[];
  hasNextPage: boolean;
  endCursor: string | null;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function articleRef(value: unknown): ArticleRef | undefined {
  if (!isObject(value) || typeof value.slug !== 'string' || !isObject(value.author))
    return undefined;
  const { username, following } = value.author;
  if (typeof username !== 'string') return undefined;
  return {
    slug: value.slug,
    author: username,
    favorited: value.favorited === true,
    following: following === true,
  };
}

function all<T>(values: unknown[], read: (v: unknown) => T | undefined): T[] | undefined {
  const out: T[] = [];
  for (const value of values) {
    const item = read(value);
    if (item === undefined) return undefined;
    out.push(item);
  }
  return out;
}

/** `{articles: [...], articlesCount}` (list and feed). */
export function articleList(body: unknown): ArticleRef[] | undefined {
  if (!isObject(body) || !Array.isArray(body.articles) || typeof body.articlesCount !== 'number') {
    return undefined;
  }
  return all(body.articles, articleRef);
}

/** `{article: {...}}` */
export function singleArticle(body: unknown): ArticleRef | undefined {
  return isObject(body) ? articleRef(body.article) : undefined;
}

/** `{tags: [...]}` */
export function tagList(body: unknown): string[] | undefined {
  if (!isObject(body) || !Array.isArray(body.tags)) return undefined;
  return body.tags.every((t) => typeof t === 'string') ? (body.tags as string[]) : undefined;
}

/** `{comments: [...]}`: the number of comments. */
export function commentCount(body: unknown): number | undefined {
  if (!isObject(body) || !Array.isArray(body.comments)) return undefined;
  return body.comments.every((c) => isObject(c) && typeof c.id === 'number')
    ? body.comments.length
    : undefined;
}

/** `{comment: {...}}`: the new comment's id. */
export function commentId(body: unknown): number | undefined {
  return isObject(body) && isObject(body.comment) && typeof body.comment.id === 'number'
    ? body.comment.id
    : undefined;
}

/** `{profile: {...}}` */
export function profile(body: unknown): Profile | undefined {
  if (!isObject(body) || !isObject(body.profile)) return undefined;
  const { username, following } = body.profile;
  return typeof username === 'string' && typeof following === 'boolean'
    ? { username, following }
    : undefined;
}

/** `{user: {...}}`: the username and token. */
export function user(body: unknown): { username: string; token: string } | undefined {
  if (!isObject(body) || !isObject(body.user)) return undefined;
  const { username, token } = body.user;
  return typeof username === 'string' && typeof token === 'string'
    ? { username, token }
    : undefined;
}

/** A GraphQL connection (`articles` or `feed`): `{totalCount, pageInfo, edges: [{node}]}`. */
export function connection(body: unknown, field: 'articles' | 'feed'): Page | undefined {
  const value = graphqlField(body, field);
  if (!isObject(value) || typeof value.totalCount !== 'number' || !Array.isArray(value.edges)) {
    return undefined;
  }
  const info = value.pageInfo;
  if (!isObject(info) || typeof info.hasNextPage !== 'boolean') return undefined;
  const articles = all(value.edges, (edge) => (isObject(edge) ? articleRef(edge.node) : undefined));
  if (!articles) return undefined;
  const endCursor = typeof info.endCursor === 'string' ? info.endCursor : null;
  return { articles, hasNextPage: info.hasNextPage, endCursor };
}

/** GraphQL `article(slug)` with its comments: the number of comments. */
export function graphqlArticleComments(body: unknown): number | undefined {
  const value = graphqlField(body, 'article');
  if (!isObject(value) || !articleRef(value) || !Array.isArray(value.comments)) return undefined;
  return value.comments.length;
}

/** GraphQL `tags`. */
export function graphqlTags(body: unknown): string[] | undefined {
  const value = graphqlField(body, 'tags');
  return Array.isArray(value) && value.every((t) => typeof t === 'string') ? value : undefined;
}

/** GraphQL `viewer`: the username. */
export function graphqlViewer(body: unknown): string | undefined {
  const value = graphqlField(body, 'viewer');
  return isObject(value) && typeof value.username === 'string' ? value.username : undefined;
}
