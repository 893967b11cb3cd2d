/**
 * `setup()`: the health gate, then the test data, made through the API as any client would.
 * Registration counts against the API's auth rate limit (30 a minute per IP by default), so a run
 * registers a few users and every VU reuses their tokens; a 429 here waits out `Retry-After`
 * once and tries again, so back-to-back runs do not fail on the limit.
 */
import { fail, sleep } from 'k6';
import { Api, expectOk, type Call, type Response } from './api.ts';
import { newArticle, runId, runPassword, userCredentials, type Credentials } from './data.ts';
import type { SetupData } from './journeys.ts';
import { PROFILES } from './profiles.ts';
import type { Settings } from './settings.ts';
import { commentId, graphqlTags, profile, singleArticle, user, type ArticleRef } from './shapes.ts';

/** Each setup user follows this many of the others, so every feed has articles. */
const FOLLOWS_PER_USER = 3;

export function createSetup(settings: Settings): () => SetupData {
  const api = new Api(settings.baseUrl);

  const describe = (res: Response) =>
    res.status === 0
      ? `no answer (${res.error})`
      : `${res.status} ${typeof res.body === 'string' ? res.body.slice(0, 300) : ''}`;

  /** A response that must be right, or the run stops saying what went wrong. */
  const must = <T>(
    res: Response,
    call: Call,
    statuses: number[],
    read: (b: unknown) => T | undefined,
  ) => {
    const value = expectOk(res, call, statuses, read);
    if (value === undefined) fail(`setup: ${call.name} answered ${describe(res)}`);
    return value as T;
  };

  /** A setup request as `token`, which must answer one of `statuses` with a readable body. */
  const send = <T>(
    method: string,
    path: string,
    body: unknown,
    name: string,
    token: string,
    statuses: number[],
    read: (b: unknown) => T | undefined,
  ) => {
    const call: Call = { endpoint: 'setup', name, token };
    return must(api.request(method, path, body, call), call, statuses, read);
  };

  const register = (credentials: Credentials) => {
    // 429 is expected here (and waited out), not a failed request.
    const call: Call = { endpoint: 'setup', name: 'POST /api/users', expect: [201, 429] };
    let res = api.request('POST', '/api/users', { user: credentials }, call);
    if (res.status === 429) {
      const waitS = Math.min(Number(res.headers['Retry-After']) || 60, 90) + 1;
      console.warn(
        `setup: the auth rate limit answered 429; waiting ${waitS} s ` +
          '(raise RATE_LIMIT_AUTH_PER_MINUTE on the target to avoid this)',
      );
      sleep(waitS);
      res = api.request('POST', '/api/users', { user: credentials }, call);
    }
    return must(res, call, [201], user);
  };

  return function setup(): SetupData {
    const ready = api.get('/health/ready', { endpoint: 'setup', name: 'GET /health/ready' });
    if (ready.status !== 200) {
      fail(
        `target not ready: GET ${settings.baseUrl}/health/ready answered ${describe(ready)}. ` +
          'Start the API and its database, or fix BASE_URL.',
      );
    }
    if (settings.weights.graphql > 0) {
      const probe = api.graphql('Tags', {});
      if (probe.status === 404) {
        fail(
          `GraphQL is not served at ${settings.baseUrl}/graphql (404). ` +
            'Run with GRAPHQL=0 to leave the GraphQL journey out.',
        );
      }
      must(probe, { endpoint: 'graphql', name: 'graphql Tags' }, [200], graphqlTags);
    }

    const run = runId();
    const password = runPassword();
    const count = settings.users ?? PROFILES[settings.profile].users;
    const users = Array.from({ length: count }, (_, i) =>
      register(userCredentials(run, i, password)),
    );

    users.forEach(({ token }, i) => {
      for (let k = 1; k <= Math.min(FOLLOWS_PER_USER, users.length - 1); k += 1) {
        const target = encodeURIComponent(users[(i + k) % users.length]!.username);
        send(
          'POST',
          `/api/profiles/${target}/follow`,
          {},
          'POST /api/profiles/{username}/follow',
          token,
          [200],
          profile,
        );
      }
    });

    const articles: ArticleRef[] = [];
    users.forEach((author, i) => {
      const commenter = users[(i + 1) % users.length]!;
      for (let n = 0; n < settings.articlesPerUser; n += 1) {
        const article = send(
          'POST',
          '/api/articles',
          { article: newArticle(Math.random, `lt-${run}`) },
          'POST /api/articles',
          author.token,
          [201],
          singleArticle,
        );
        articles.push(article);
        send(
          'POST',
          `/api/articles/${encodeURIComponent(article.slug)}/comments`,
          { comment: { body: `Welcome, ${author.username}.` } },
          'POST /api/articles/{slug}/comments',
          commenter.token,
          [200, 201],
          commentId,
        );
      }
    });

    console.log(
      `setup: run ${run}: ${users.length} users (lt-${run}-*), ${articles.length} articles; ` +
        `profile ${settings.profile}, target ${settings.baseUrl}`,
    );
    return { run, users, articles };
  };
}
