import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let token: string;
beforeAll(async () => {
  server = await startTestServer();
  ({ token } = await server.api.register('deep'));
});
afterAll(() => server.close());

/** `[` × depth, a string, `]` × depth: an array nested `depth` levels. */
const nestedArrays = (depth: number) => `${'['.repeat(depth)}"x"${']'.repeat(depth)}`;

/** An article whose tagList is `tagList` (raw JSON text): the body is 2 levels + the list. */
const articleWithTags = (tagList: string) =>
  `{"article":{"title":"Deep","description":"d","body":"b","tagList":${tagList}}}`;

const post = (path: string, raw: string, headers: Record<string, string> = {}) =>
  server.api.post(path, {
    raw,
    token,
    headers: { 'Content-Type': 'application/json', ...headers },
  });

describe('deeply nested and oversized JSON bodies', () => {
  it('when a signed-in author sends a tagList nested 10,000 deep, then 400 names the depth limit', async () => {
    const res = await post('/articles', articleWithTags(nestedArrays(10_000)));
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual({
      body: ['nests arrays and objects deeper than 32 levels'],
    });
  });

  it('when an anonymous client sends a deep body, then it is refused before authentication', async () => {
    const res = await server.api.post('/articles', {
      raw: articleWithTags(nestedArrays(100_000)),
      headers: { 'Content-Type': 'application/json' },
    });
    expect(res.status).toBe(400);
  });

  it('when objects nest 5,000 deep on any route, then 400, never 500', async () => {
    const deepObject = `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`;
    for (const path of ['/users', '/users/login', '/sessions', '/articles']) {
      expect((await post(path, deepObject)).status).toBe(400);
    }
  });

  it('when a body nests exactly to the limit, then it is read as usual', async () => {
    // Top object (1) + article (2) + 30 arrays in an extra field = 32 levels.
    const raw = `{"article":{"title":"At the limit","description":"d","body":"b","extra":${nestedArrays(30)}}}`;
    const res = await post('/articles', raw);
    expect(res.status).toBe(201);
  });

  it('when brackets and escaped quotes sit inside strings, then they do not count as nesting', async () => {
    const body = `${'['.repeat(5_000)} \\" ${'{'.repeat(5_000)}`;
    const res = await post(
      '/articles',
      JSON.stringify({ article: { title: 'Brackets', description: 'd', body } }),
    );
    expect(res.status).toBe(201);
    expect(res.body.article.body).toBe(body);
  });

  it('when a body holds more than 10,000 values, then 413 says so', async () => {
    const tags = JSON.stringify(Array.from({ length: 20_000 }, (_, i) => `t${i}`));
    const res = await post('/articles', articleWithTags(tags));
    expect(res.status).toBe(413);
    expect(res.body.errors).toEqual({
      body: ['holds more than 10000 values (array elements and fields)'],
    });
  });

  it('when a tag is itself a list, then 422 says it must be a string (not "given once")', async () => {
    const res = await post('/articles', articleWithTags('[["a"]]'));
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ 'tagList.0': ['must be a string'] });
    // A repeated query parameter is still described as such.
    const query = await server.api.get('/articles?tag=a&tag=b');
    expect(query.status).toBe(422);
    expect(query.body.errors).toEqual({ tag: ['must be given once'] });
  });

  it('when a NUL hides deep in a wide body, then 422 names its field path', async () => {
    const tags = Array.from({ length: 15 }, (_, i) => (i === 12 ? 'a\u0000b' : `t${i}`));
    const res = await post(
      '/articles',
      JSON.stringify({ article: { title: 'Nul', description: 'd', body: 'b', tagList: tags } }),
    );
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ 'tagList.12': ['must not contain NUL characters'] });
  });

  it('when hundreds of hostile bodies arrive at once, then all are refused and the heap returns to its baseline', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    // 200 KB bodies nested 100,000 deep, half signed in, half anonymous, 16 at a time.
    const deep = articleWithTags(nestedArrays(100_000));
    const before = heap();
    const statuses: number[] = [];
    for (let round = 0; round < 20; round += 1) {
      const batch = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          server.api.post('/articles', {
            raw: deep,
            ...(i % 2 ? { token } : {}),
            headers: { 'Content-Type': 'application/json' },
          }),
        ),
      );
      statuses.push(...batch.map((r) => r.status));
    }
    const after = heap();
    expect(new Set(statuses)).toEqual(new Set([400]));
    expect(after - before).toBeLessThan(32 * 1024 * 1024);
  }, 60_000);
});

describe('request encoding', () => {
  it.each(['utf-16', 'UTF-16LE', 'iso-8859-1'])(
    'when the JSON declares charset=%s, then 415 asks for UTF-8',
    async (charset) => {
      const res = await post('/users/login', '{"user":{"email":"a@b.c","password":"x"}}', {
        'Content-Type': `application/json; charset=${charset}`,
      });
      expect(res.status).toBe(415);
      expect(res.body.errors).toEqual({
        body: [`must be UTF-8 encoded (got charset=${charset.toLowerCase()})`],
      });
    },
  );

  it('when the body has a Content-Encoding the server cannot undo, then 415 says so', async () => {
    const res = await post('/users/login', '{"user":{}}', { 'Content-Encoding': 'compress' });
    expect(res.status).toBe(415);
    expect(res.body.errors).toEqual({ body: ['has an unsupported Content-Encoding'] });
  });

  it('when the JSON declares charset=UTF-8, then it is read', async () => {
    const res = await post(
      '/users/login',
      '{"user":{"email":"nobody@example.com","password":"x"}}',
      {
        'Content-Type': 'application/json; charset=UTF-8',
      },
    );
    expect(res.status).toBe(401);
  });
});

describe('invalid UTF-8', () => {
  it('when a JSON body holds bytes that are not UTF-8, then 400 instead of storing U+FFFD', async () => {
    const res = await fetch(`${server.baseUrl}/api/user`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Authorization: `Token ${token}` },
      body: Buffer.concat([
        Buffer.from('{"user":{"bio":"'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}}'),
      ]),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).errors).toEqual({ body: ['is not valid UTF-8'] });
  });
});
