/**
 * The journeys: what one visitor does in one iteration, calling the API the way a RealWorld front
 * end does. Each step checks its response; a failed step ends the journey (the next step needs
 * what it returned) and the journey counts as not completed.
 */
import { group, sleep } from 'k6';
import { Api, expectOk, graphqlCall, recordJourney, type Call } from './api.ts';
import type { JourneyName } from './catalog.ts';
import { articleEdit, commentBody, newArticle, TAG_POOL } from './data.ts';
import type { OperationName } from './graphql.ts';
import type { Settings } from './settings.ts';
import {
  articleList,
  commentCount,
  commentId,
  connection,
  graphqlArticleComments,
  graphqlTags,
  graphqlViewer,
  profile,
  singleArticle,
  tagList,
  user,
  type ArticleRef,
} from './shapes.ts';

/** What `setup()` prepared; every VU gets a copy. */
export interface SetupData {
  /** Id of this run; its users are `lt-<run>-<n>`. */
  run: string;
  /** Registered users and their tokens, shared by the VUs (registration is rate limited). */
  users: { username: string; token: string }[];
  /** Articles written in setup (never empty), so there is always something to read. */
  articles: ArticleRef[];
}

export type Journey = (data: SetupData) => void;

type Read<T> = (body: unknown) => T | undefined;

const enc = encodeURIComponent;
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
/** The first non-empty list: what a visitor can click on. */
const choices = <T>(...lists: T[][]): T[] => lists.find((l) => l.length > 0) ?? [];

export function createJourneys(settings: Settings): Record<JourneyName, Journey> {
  const api = new Api(settings.baseUrl);

  /** A visitor's pause between two pages. */
  const think = () => {
    if (settings.thinkTimeS > 0) sleep(settings.thinkTimeS * (0.5 + Math.random()));
  };

  /** Each VU signs in as one of the setup users, the same one every iteration. */
  const me = (data: SetupData) => data.users[__VU % data.users.length]!;

  const send = <T>(
    method: string,
    path: string,
    body: unknown,
    call: Call,
    statuses: number[],
    read: Read<T>,
  ) => expectOk(api.request(method, path, body, call), call, statuses, read);

  const get = <T>(path: string, call: Call, read: Read<T>) =>
    send('GET', path, undefined, call, [200], read);

  const gql = <T>(operation: OperationName, variables: object, read: Read<T>, token?: string) =>
    expectOk(api.graphql(operation, variables, token), graphqlCall(operation, token), [200], read);

  const run =
    (name: JourneyName, steps: (data: SetupData) => boolean): Journey =>
    (data) =>
      group(name, () => {
        let completed = false;
        try {
          completed = steps(data);
        } finally {
          recordJourney(name, completed);
        }
      });

  /** An article page: the article and its comments, which front ends load together. */
  const readArticle = (slug: string, token?: string): ArticleRef | undefined => {
    const article = get(
      `/api/articles/${enc(slug)}`,
      { endpoint: 'read', name: 'GET /api/articles/{slug}', token },
      singleArticle,
    );
    const comments =
      article &&
      get(
        `/api/articles/${enc(slug)}/comments`,
        { endpoint: 'read', name: 'GET /api/articles/{slug}/comments', token },
        commentCount,
      );
    return comments === undefined ? undefined : article;
  };

  const browse = run('browse', (data) => {
    // Most visits start on the first page; some page on.
    const offset = Math.random() < 0.3 ? 10 * (1 + Math.floor(Math.random() * 5)) : 0;
    const home = get(
      `/api/articles?limit=10&offset=${offset}`,
      { endpoint: 'list', name: 'GET /api/articles' },
      articleList,
    );
    const tags = home && get('/api/tags', { endpoint: 'list', name: 'GET /api/tags' }, tagList);
    if (!home || !tags) return false;
    think();
    const tagged = get(
      `/api/articles?tag=${enc(pick(choices(tags.slice(0, 10), [...TAG_POOL])))}&limit=10`,
      { endpoint: 'list', name: 'GET /api/articles?tag' },
      articleList,
    );
    if (!tagged) return false;
    think();
    const chosen = pick(choices(tagged, home, data.articles));
    if (!readArticle(chosen.slug)) return false;
    think();
    const author = get(
      `/api/profiles/${enc(chosen.author)}`,
      { endpoint: 'read', name: 'GET /api/profiles/{username}' },
      profile,
    );
    const byAuthor =
      author &&
      get(
        `/api/articles?author=${enc(chosen.author)}&limit=5`,
        { endpoint: 'list', name: 'GET /api/articles?author' },
        articleList,
      );
    return byAuthor !== undefined;
  });

  const reader = run('reader', (data) => {
    const { username, token } = me(data);
    const current = get('/api/user', { endpoint: 'read', name: 'GET /api/user', token }, user);
    if (current?.username !== username) return false;
    const feed = get(
      '/api/articles/feed?limit=10',
      { endpoint: 'feed', name: 'GET /api/articles/feed', token },
      articleList,
    );
    if (!feed) return false;
    think();
    const article = readArticle(pick(choices(feed, data.articles)).slug, token);
    if (!article) return false;
    think();
    // The favorite and follow buttons toggle, as in the UI.
    const favorite: Call = {
      endpoint: 'social',
      name: 'POST|DELETE /api/articles/{slug}/favorite',
      token,
    };
    const favorited = send(
      article.favorited ? 'DELETE' : 'POST',
      `/api/articles/${enc(article.slug)}/favorite`,
      article.favorited ? undefined : {},
      favorite,
      [200],
      (body) => {
        const after = singleArticle(body);
        return after && after.favorited !== article.favorited ? after : undefined;
      },
    );
    if (!favorited) return false;
    if (article.author === username) return true; // nobody follows themselves
    const follow: Call = {
      endpoint: 'social',
      name: 'POST|DELETE /api/profiles/{username}/follow',
      token,
    };
    const followed = send(
      article.following ? 'DELETE' : 'POST',
      `/api/profiles/${enc(article.author)}/follow`,
      article.following ? undefined : {},
      follow,
      [200],
      (body) => {
        const after = profile(body);
        return after && after.following !== article.following ? after : undefined;
      },
    );
    return followed !== undefined;
  });

  const writer = run('writer', (data) => {
    const { username, token } = me(data);
    const created = send(
      'POST',
      '/api/articles',
      { article: newArticle() },
      { endpoint: 'write', name: 'POST /api/articles', token },
      [201],
      singleArticle,
    );
    if (created?.author !== username) return false;
    // Read-your-writes: the author sees the new article at once (replica lag must not show).
    const readBack = get(
      `/api/articles/${enc(created.slug)}`,
      { endpoint: 'read', name: 'GET /api/articles/{slug}', token },
      singleArticle,
    );
    if (readBack?.slug !== created.slug) return false;
    think();
    const edited = send(
      'PUT',
      `/api/articles/${enc(created.slug)}`,
      { article: articleEdit() },
      { endpoint: 'write', name: 'PUT /api/articles/{slug}', token },
      [200],
      singleArticle,
    );
    if (!edited) return false;
    think();
    // The contract answers 200; 201 would mean the same.
    const comment = (slug: string) =>
      send(
        'POST',
        `/api/articles/${enc(slug)}/comments`,
        { comment: { body: commentBody() } },
        { endpoint: 'write', name: 'POST /api/articles/{slug}/comments', token },
        [200, 201],
        commentId,
      );
    if (comment(edited.slug) === undefined) return false;
    think();
    const other = pick(data.articles).slug;
    const otherComments =
      comment(other) !== undefined &&
      get(
        `/api/articles/${enc(other)}/comments`,
        { endpoint: 'read', name: 'GET /api/articles/{slug}/comments', token },
        commentCount,
      );
    return typeof otherComments === 'number';
  });

  const graphql = run('graphql', (data) => {
    const { username, token } = me(data);
    const page = (body: unknown) => connection(body, 'articles');
    const first = gql('ArticlesPage', { first: 10 }, page);
    if (!first) return false;
    const next =
      first.hasNextPage && first.endCursor
        ? gql('ArticlesPage', { first: 10, after: first.endCursor }, page)
        : first;
    const tags = next && gql('Tags', {}, graphqlTags);
    if (!next || !tags) return false;
    think();
    const tag = pick(choices(tags.slice(0, 10), [...TAG_POOL]));
    const tagged = gql('ArticlesPage', { first: 10, tag }, page);
    if (!tagged) return false;
    think();
    const chosen = pick(choices(tagged.articles, next.articles, data.articles));
    const comments = gql('ArticleWithComments', { slug: chosen.slug }, graphqlArticleComments);
    if (comments === undefined) return false;
    think();
    const viewer = gql('Viewer', {}, graphqlViewer, token);
    const feed =
      viewer === username && gql('FeedPage', { first: 10 }, (b) => connection(b, 'feed'), token);
    return feed !== undefined && feed !== false;
  });

  return { browse, reader, writer, graphql };
}
