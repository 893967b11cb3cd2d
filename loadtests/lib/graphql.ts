/**
 * The GraphQL operations the suite sends, copied verbatim from the contract the GraphQL endpoint
 * serves (`POST {BASE_URL}/graphql`, body `{query, variables, operationName}`). Changing one here
 * without the contract breaks the GraphQL journey. Pure.
 */

export const OPERATIONS = {
  ArticlesPage: `query ArticlesPage($first: Int!, $after: String, $tag: String, $author: String, $favorited: String) {
  articles(first: $first, after: $after, tag: $tag, author: $author, favorited: $favorited) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        slug title description tagList createdAt updatedAt favorited favoritesCount
        author { username bio image following }
      }
    }
  }
}`,
  FeedPage: `query FeedPage($first: Int!, $after: String) {
  feed(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { slug title favorited favoritesCount author { username following } } }
  }
}`,
  ArticleWithComments: `query ArticleWithComments($slug: String!) {
  article(slug: $slug) {
    slug title body tagList favorited favoritesCount
    author { username following }
    comments { id body createdAt author { username } }
  }
}`,
  Tags: `query Tags { tags }`,
  Viewer: `query Viewer { viewer { username email bio image } }`,
} as const;

export type OperationName = keyof typeof OPERATIONS;

/** The request body (before JSON encoding) for one operation. */
export function graphqlRequest(operationName: OperationName, variables: object = {}) {
  return { query: OPERATIONS[operationName], variables, operationName };
}

/** `data.<field>` of a GraphQL response, if the response has no `errors` and is well formed. */
export function graphqlField(body: unknown, field: string): unknown {
  if (typeof body !== 'object' || body === null) return undefined;
  const { data, errors } = body as { data?: Record<string, unknown> | null; errors?: unknown };
  if (Array.isArray(errors) && errors.length > 0) return undefined;
  return data?.[field];
}
