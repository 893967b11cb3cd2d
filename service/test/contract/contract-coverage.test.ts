import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { uniqueUser } from '../support/client.js';
import {
  Contract,
  RecordingClient,
  documentedPairs,
  fetchPublishedDocument,
  loadRealWorldDocument,
  missingFrom,
  operationsOf,
  type OpenApiDocument,
  type Operation,
} from '../support/contract.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { report } from '../support/report.js';
import { MAINTENANCE_QUEUE } from '../../src/jobs/contracts.js';
import { createDeadLetter } from '../support/dead-letters.js';
import { form, sampleImage, tempStorage } from '../support/images.js';

/*
 * Coverage by contract: every (operation × documented status) of our published OpenAPI document
 * is driven against the real server, every response is validated against our document and, where
 * RealWorld defines a schema, against RealWorld's. The last tests fail if a documented pair was
 * never observed, so a new route or status cannot land without a scenario that produces it.
 */

// Small, so the 413 scenarios send a few KiB instead of a megabyte.
const BODY_LIMIT_BYTES = 2048;

let server: TestServer;
let storage: Awaited<ReturnType<typeof tempStorage>>;
/** Small, so the 413 scenario sends a few KiB. */
const AVATAR_MAX_BYTES = 4096;
let ours: OpenApiDocument;
let realworld: OpenApiDocument;
let api: RecordingClient;
type Registered = Awaited<ReturnType<RecordingClient['register']>>;
let alice: Registered;
let bob: Registered;
/** Promoted with SQL: bootstrapping the first admin is an operator action on the database. */
let admin: Registered;
/** An article by alice, with one comment by alice; generic scenarios never reach handlers. */
let article: { slug: string };
let comment: { id: number };
/** A data export of alice's (queued: no worker runs here). */
let dataExport: { id: string };

beforeAll(async () => {
  storage = await tempStorage();
  server = await startTestServer({
    LOG_LEVEL: 'warn',
    BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
    STORAGE_DIR: storage.dir,
    AVATAR_MAX_BYTES: String(AVATAR_MAX_BYTES),
  });
  ours = await fetchPublishedDocument(server.baseUrl);
  realworld = loadRealWorldDocument();
  api = new RecordingClient(`${server.baseUrl}/api`, new Contract(ours, realworld));
  [alice, bob, admin] = [
    await api.register('alice'),
    await api.register('bob'),
    await api.register('admin'),
  ];
  await server.setRole(admin.username, 'admin');
  article = await api.createArticle(alice.token, { tagList: ['contract'] });
  const created = await api.post(`/articles/${article.slug}/comments`, {
    token: alice.token,
    body: { comment: { body: 'First!' } },
  });
  comment = created.body.comment;
  const requested = await api.post('/user/exports', { token: alice.token });
  expect(requested.status).toBe(202);
  dataExport = requested.body.export;
}, 60_000);
afterAll(async () => {
  await server?.close();
  await storage?.remove();
});

/** A concrete path for `op` that reaches its handler: fixtures fill the path parameters. */
function pathOf(op: Operation): string {
  const values: Record<string, string> = {
    slug: article.slug,
    username: bob.username,
    id: String(comment.id),
    queue: MAINTENANCE_QUEUE,
    exportId: dataExport.id,
    // Well-formed, nobody's: generic scenarios never reach the handler.
    uploadId: '00000000-0000-4000-8000-000000000000',
  };
  return op.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`no fixture for path parameter ${name} of ${op.path}`);
    return encodeURIComponent(values[name]!);
  });
}

/** Runs `send` for every operation in `ops`; returns those that did not answer `status`. */
async function mismatches(
  ops: Operation[],
  status: number,
  send: (op: Operation) => Promise<{ status: number; body: unknown }>,
): Promise<string[]> {
  const wrong: string[] = [];
  for (const op of ops) {
    const res = await send(op);
    if (res.status !== status) {
      wrong.push(`${op.operationId}: ${res.status} ${JSON.stringify(res.body)?.slice(0, 200)}`);
    }
  }
  return wrong;
}

/**
 * The scenarios below, in file order. They share fixtures (a comment deleted by one is gone for
 * the next), so each runs once, after every scenario before it: any test run alone (`jest -t`)
 * sees the same state as in a full run, and the verdicts at the end drive all of them.
 */
const scenarios: { run: () => Promise<void>; done?: Promise<void> }[] = [];

function scenario(name: string, run: () => Promise<void>): void {
  const index = scenarios.length;
  scenarios.push({ run });
  it(name, () => scenariosUpTo(index), 120_000);
}

async function scenariosUpTo(index: number): Promise<void> {
  for (const s of scenarios.slice(0, index + 1)) await (s.done ??= s.run());
}

describe('statuses every operation shares (derived from the published document)', () => {
  const ops = () => operationsOf(ours);

  scenario(
    'when a token-required operation gets no token, or a malformed Authorization header, then 401',
    async () => {
      const required = ops().filter((op) => op.auth === 'required');
      expect(required.length).toBeGreaterThan(10);
      expect(await mismatches(required, 401, (op) => api.request(op.method, pathOf(op)))).toEqual(
        [],
      );
      expect(
        await mismatches(required, 401, (op) =>
          api.request(op.method, pathOf(op), {
            headers: { Authorization: `Bearer${alice.token}` },
          }),
        ),
      ).toEqual([]);
    },
  );

  scenario(
    'when a token-optional operation gets an invalid token, then 401 rather than anonymous access',
    async () => {
      const optional = ops().filter((op) => op.auth === 'optional');
      expect(optional.map((op) => op.operationId).sort()).toEqual([
        'GetArticle',
        'GetArticleComments',
        'GetArticles',
        'GetProfileByUsername',
      ]);
      const forged = `${alice.token.slice(0, -4)}AAAA`;
      expect(
        await mismatches(optional, 401, (op) => api.get(pathOf(op), { token: forged })),
      ).toEqual([]);
    },
  );

  scenario(
    'when an operation without security gets a garbage token, then the token is ignored',
    async () => {
      const res = await api.get('/tags', { token: 'not.a.jwt' });
      expect(res.status).toBe(200);
      expect(operationsOf(ours).find((op) => op.operationId === 'GetTags')?.auth).toBe('none');
    },
  );

  scenario('when any operation gets an unknown query parameter, then 422 naming it', async () => {
    const wrong = await mismatches(ops(), 422, async (op) => {
      const res = await api.request(op.method, `${pathOf(op)}?unexpected=1`, {
        token: alice.token,
      });
      if (res.status === 422) expect(res.body.errors).toEqual({ unexpected: expect.any(Array) });
      return res;
    });
    expect(wrong).toEqual([]);
  });

  describe('operations with a JSON body', () => {
    const withBody = () => ops().filter((op) => op.body);

    scenario('when the JSON is malformed, then 400', async () => {
      expect(withBody().length).toBeGreaterThanOrEqual(6);
      const wrong = await mismatches(withBody(), 400, (op) =>
        api.request(op.method, pathOf(op), {
          token: alice.token,
          raw: '{"oops": ',
          headers: { 'Content-Type': 'application/json' },
        }),
      );
      expect(wrong).toEqual([]);
    });

    scenario(
      `when the body is larger than BODY_LIMIT_BYTES (${BODY_LIMIT_BYTES}), then 413`,
      async () => {
        const huge = { padding: 'x'.repeat(BODY_LIMIT_BYTES * 2) };
        const wrong = await mismatches(withBody(), 413, (op) =>
          api.request(op.method, pathOf(op), { token: alice.token, body: huge }),
        );
        expect(wrong).toEqual([]);
      },
    );

    scenario('when the body is text/plain, then 415', async () => {
      const wrong = await mismatches(withBody(), 415, (op) =>
        api.request(op.method, pathOf(op), {
          token: alice.token,
          raw: 'user=alice',
          headers: { 'Content-Type': 'text/plain' },
        }),
      );
      expect(wrong).toEqual([]);
    });
  });
});

describe('roles and the write freeze', () => {
  /** Bodies each operation accepts, so that only the role or the freeze can refuse them. */
  const validBody = (operationId: string): unknown =>
    ({
      AdminChangeRole: { user: { role: 'author' } },
      AdminSetMaintenance: { maintenance: { writeFreeze: true } },
      CreateUser: { user: uniqueUser() },
      UpdateCurrentUser: { user: { bio: 'frozen?' } },
      CreateArticle: { article: { title: 'Frozen', description: 'd', body: 'b' } },
      UpdateArticle: { article: { description: 'frozen?' } },
      CreateArticleComment: { comment: { body: 'frozen?' } },
      UpdateNotificationSettings: { settings: { digest: true } },
    })[operationId];

  scenario('when a non-admin calls any /admin operation, then 403', async () => {
    const adminOps = operationsOf(ours).filter((op) => op.path.startsWith('/admin/'));
    expect(adminOps.length).toBeGreaterThan(3);
    const wrong = await mismatches(adminOps, 403, (op) =>
      api.request(op.method, pathOf(op), {
        token: alice.token,
        body: validBody(op.operationId),
      }),
    );
    expect(wrong).toEqual([]);
  });

  scenario(
    'when writes are frozen, then every documented-503 operation answers a non-admin with 503',
    async () => {
      // Admins are exempt from the freeze and non-admins meet 403 first on /admin routes, so those
      // are left to the coverage check. Each operation acts as a user of its own: a write that
      // slipped through (say, "log out everywhere") must not spoil the next one's token.
      const writes = operationsOf(ours).filter(
        (op) => op.statuses.includes(503) && !op.path.startsWith('/admin/'),
      );
      expect(writes.length).toBeGreaterThan(10);
      const actors = await Promise.all(writes.map(() => api.register('frozen')));
      const frozen = await api.put('/admin/maintenance', {
        token: admin.token,
        body: { maintenance: { writeFreeze: true } },
      });
      expect(frozen.status).toBe(200);
      try {
        const wrong = await mismatches(writes, 503, (op) =>
          api.request(op.method, pathOf(op), {
            token: actors[writes.indexOf(op)]!.token,
            body: validBody(op.operationId),
          }),
        );
        expect(wrong).toEqual([]);
      } finally {
        await api.put('/admin/maintenance', {
          token: admin.token,
          body: { maintenance: { writeFreeze: false } },
        });
        const state = await api.get('/admin/maintenance', { token: admin.token });
        expect(state.body).toEqual({ maintenance: { writeFreeze: false } });
      }
    },
  );

  scenario(
    'when a viewer writes an article, then 403; an author favoriting their own draft, 403',
    async () => {
      const viewer = await api.register('viewer');
      const demoted = await api.put(`/admin/users/${viewer.username}/role`, {
        token: admin.token,
        body: { user: { role: 'viewer' } },
      });
      expect(demoted.status).toBe(200);
      expect(demoted.body.user.role).toBe('viewer');
      const write = await api.post('/articles', {
        token: viewer.token,
        body: { article: { title: 'Nope', description: 'd', body: 'b' } },
      });
      expect(write.status).toBe(403);
      // Drafts cannot be favorited; their author can see them, so the answer is 403, not 404.
      const draft = await api.post('/articles', {
        token: alice.token,
        body: { article: { title: 'Draft', description: 'd', body: 'b', status: 'draft' } },
      });
      expect(draft.status).toBe(201);
      const path = `/articles/${draft.body.article.slug}/favorite`;
      expect((await api.post(path, { token: alice.token })).status).toBe(403);
      expect((await api.delete(path, { token: alice.token })).status).toBe(403);
    },
  );
});

describe('admin', () => {
  scenario('when an admin lists users, reads the audit log and the queues, then 200', async () => {
    const users = await api.get(`/admin/users?q=${alice.username}`, { token: admin.token });
    expect(users.status).toBe(200);
    expect(users.body.users.map((u: { username: string }) => u.username)).toEqual([alice.username]);
    const log = await api.get('/admin/audit-log', { token: admin.token });
    expect(log.status).toBe(200);
    expect(log.body.entriesCount).toBeGreaterThan(0);
    expect((await api.get('/admin/queues', { token: admin.token })).status).toBe(200);
  });

  scenario(
    'when an admin suspends and reactivates a user, then 200 each and login follows suit',
    async () => {
      const carol = await api.register('carol');
      const path = `/admin/users/${carol.username}/suspension`;
      const suspended = await api.post(path, { token: admin.token });
      expect(suspended.status).toBe(200);
      expect(suspended.body.user.suspended).toBe(true);
      expect((await api.get('/user', { token: carol.token })).status).toBe(401);
      const back = await api.delete(path, { token: admin.token });
      expect(back.status).toBe(200);
      expect(back.body.user.suspended).toBe(false);
    },
  );

  scenario(
    'when an admin lists dead letters and re-queues one, then 200; an unknown queue or job, 404',
    async () => {
      const dead = await createDeadLetter(server.config);
      try {
        const list = await api.get('/admin/jobs/failed', { token: admin.token });
        expect(list.status).toBe(200);
        expect(list.body.jobs).toContainEqual(
          expect.objectContaining({ id: dead.jobId, failedReason: 'failed on purpose' }),
        );
        const unknown = await api.get('/admin/jobs/failed?queue=nope', { token: admin.token });
        expect(unknown.status).toBe(404);
        const path = `/admin/jobs/${dead.queueName}/${dead.jobId}/retry`;
        expect((await api.post(path, { token: admin.token })).status).toBe(200);
        // No longer failed: nothing to re-queue.
        expect((await api.post(path, { token: admin.token })).status).toBe(404);
      } finally {
        await dead.remove();
      }
    },
  );

  scenario('when the target user does not exist, then 404', async () => {
    const path = '/admin/users/nobody-by-this-name';
    expect(
      (await api.put(`${path}/role`, { token: admin.token, body: { user: { role: 'author' } } }))
        .status,
    ).toBe(404);
    expect((await api.post(`${path}/suspension`, { token: admin.token })).status).toBe(404);
    expect((await api.delete(`${path}/suspension`, { token: admin.token })).status).toBe(404);
  });
});

describe('sessions', () => {
  scenario(
    'when a user logs in with a session, reads it and logs out, then 201, 200, 204',
    async () => {
      const dave = await api.register('dave');
      const wrong = await api.post('/sessions', {
        body: { user: { email: dave.email, password: 'not the password' } },
      });
      expect(wrong.status).toBe(401);
      const started = await api.post('/sessions', {
        body: { user: { email: dave.email, password: dave.password } },
      });
      expect(started.status).toBe(201);
      const cookie = (started.headers.get('set-cookie') ?? '').split(';')[0]!;
      expect(cookie).toMatch(/=/);
      const current = await api.get('/sessions/current', { headers: { Cookie: cookie } });
      expect(current.status).toBe(200);
      expect(current.body.csrfToken).toBe(started.body.csrfToken);
      const ended = await api.delete('/sessions/current', {
        headers: { Cookie: cookie, 'X-CSRF-Token': started.body.csrfToken },
      });
      expect(ended.status).toBe(204);
      expect((await api.get('/sessions/current', { headers: { Cookie: cookie } })).status).toBe(
        401,
      );
    },
  );

  scenario('when a user logs out everywhere, then 204 and their tokens stop working', async () => {
    const erin = await api.register('erin');
    expect((await api.delete('/sessions', { token: erin.token })).status).toBe(204);
    expect((await api.get('/user', { token: erin.token })).status).toBe(401);
  });
});

describe('users', () => {
  scenario('when a new user registers, then 201; when the email is invalid, then 422', async () => {
    expect((await api.post('/users', { body: { user: uniqueUser() } })).status).toBe(201);
    const bad = await api.post('/users', {
      body: { user: { ...uniqueUser(), email: 'not-an-email' } },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.errors).toEqual({ email: ['is invalid'] });
  });

  scenario('when credentials are right, then 200; wrong, then 401; blank, then 422', async () => {
    const ok = await api.post('/users/login', {
      body: { user: { email: alice.email, password: alice.password } },
    });
    expect(ok.status).toBe(200);
    const wrong = await api.post('/users/login', {
      body: { user: { email: alice.email, password: 'not the password' } },
    });
    expect(wrong.status).toBe(401);
    const blank = await api.post('/users/login', { body: { user: {} } });
    expect(blank.status).toBe(422);
  });

  scenario(
    'when the current user reads and updates themself, then 200; a javascript: image is 422',
    async () => {
      expect((await api.get('/user', { token: bob.token })).body.user.username).toBe(bob.username);
      const updated = await api.put('/user', { token: bob.token, body: { user: { bio: 'hi' } } });
      expect(updated.status).toBe(200);
      expect(updated.body.user.bio).toBe('hi');
      const bad = await api.put('/user', {
        token: bob.token,
        body: { user: { image: 'javascript:alert(1)' } },
      });
      expect(bad.status).toBe(422);
    },
  );
});

describe('data exports', () => {
  scenario(
    'when a user requests an export again, lists and reads theirs, then 202 (the same one), 200, 200; someone else’s, 404',
    async () => {
      const again = await api.post('/user/exports', { token: alice.token });
      expect(again.status).toBe(202);
      expect(again.body.export.id).toBe(dataExport.id);
      const list = await api.get('/user/exports', { token: alice.token });
      expect(list.status).toBe(200);
      expect(list.body.exports.map((e: { id: string }) => e.id)).toEqual([dataExport.id]);
      const one = await api.get(`/user/exports/${dataExport.id}`, { token: alice.token });
      expect(one.status).toBe(200);
      expect(one.body.export).toMatchObject({ id: dataExport.id, status: 'queued', progress: 0 });
      expect((await api.get(`/user/exports/${dataExport.id}`, { token: bob.token })).status).toBe(
        404,
      );
    },
  );
});

describe('avatars', () => {
  scenario(
    'when an avatar is uploaded, then 202 and its status 200; broken framing 400, too big 413, not an image 415, two files 422; another user’s upload 404',
    async () => {
      const image = await sampleImage('png', 40, 30);
      const put = (raw: FormData | string, headers?: Record<string, string>) =>
        api.put('/user/avatar', { token: bob.token, raw, ...(headers ? { headers } : {}) });
      const accepted = await put(form([{ bytes: image }]));
      expect(accepted.status).toBe(202);
      expect(accepted.body.avatarUpload.status).toBe('pending');
      const path = `/user/avatar/${accepted.body.avatarUpload.id}`;
      expect((await api.get(path, { token: bob.token })).status).toBe(200);
      expect((await api.get(path, { token: alice.token })).status).toBe(404);
      expect((await put('x', { 'Content-Type': 'multipart/form-data' })).status).toBe(400);
      expect((await put(form([{ bytes: Buffer.alloc(AVATAR_MAX_BYTES + 1) }]))).status).toBe(413);
      expect((await put(form([{ bytes: Buffer.from('text'), type: 'image/png' }]))).status).toBe(
        415,
      );
      expect((await put(form([{ bytes: image }, { bytes: image }]))).status).toBe(422);
    },
  );
});

describe('profiles', () => {
  scenario('when a profile exists, then 200; when it does not, then 404', async () => {
    const res = await api.get(`/profiles/${alice.username}`, { token: bob.token });
    expect(res.status).toBe(200);
    expect(res.body.profile).toMatchObject({ username: alice.username, following: false });
    expect((await api.get('/profiles/nobody-by-this-name')).status).toBe(404);
  });

  scenario(
    'when bob follows and unfollows alice, then 200 each; unknown users are 404',
    async () => {
      const follow = await api.post(`/profiles/${alice.username}/follow`, { token: bob.token });
      expect(follow.status).toBe(200);
      expect(follow.body.profile.following).toBe(true);
      expect((await api.post('/profiles/nobody-here/follow', { token: bob.token })).status).toBe(
        404,
      );
      expect((await api.delete('/profiles/nobody-here/follow', { token: bob.token })).status).toBe(
        404,
      );
      const unfollow = await api.delete(`/profiles/${alice.username}/follow`, { token: bob.token });
      expect(unfollow.status).toBe(200);
      expect(unfollow.body.profile.following).toBe(false);
    },
  );

  scenario('when a user follows themself, then 422', async () => {
    const res = await api.post(`/profiles/${alice.username}/follow`, { token: alice.token });
    expect(res.status).toBe(422);
  });
});

describe('articles', () => {
  scenario('when a follower reads the feed, then 200 with the followee’s articles', async () => {
    await api.post(`/profiles/${alice.username}/follow`, { token: bob.token });
    const res = await api.get('/articles/feed?limit=5&offset=0', { token: bob.token });
    expect(res.status).toBe(200);
    expect(res.body.articles.map((a: { slug: string }) => a.slug)).toContain(article.slug);
  });

  it.each([['limit=0'], ['limit=101'], ['limit=abc'], ['offset=-1'], ['limit=1&limit=2']])(
    'when the feed is paged with %s, then 422',
    async (query) => {
      expect((await api.get(`/articles/feed?${query}`, { token: bob.token })).status).toBe(422);
    },
  );

  scenario(
    'when articles are listed by tag, author and favoriter, then 200; a limit of 1000 is 422',
    async () => {
      const res = await api.get(`/articles?tag=contract&author=${alice.username}`);
      expect(res.status).toBe(200);
      expect(res.body.articlesCount).toBe(1);
      expect((await api.get(`/articles?favorited=${bob.username}`)).body.articlesCount).toBe(0);
      expect((await api.get('/articles?limit=1000')).status).toBe(422);
    },
  );

  scenario('when an article is created, then 201; without a title, then 422', async () => {
    const created = await api.post('/articles', {
      token: bob.token,
      body: { article: { title: 'Bob writes', description: 'd', body: 'b' } },
    });
    expect(created.status).toBe(201);
    expect(created.body.article.author.username).toBe(bob.username);
    const untitled = await api.post('/articles', {
      token: bob.token,
      body: { article: { description: 'd', body: 'b' } },
    });
    expect(untitled.status).toBe(422);
    expect(untitled.body.errors).toEqual({ title: ["can't be blank"] });
  });

  scenario(
    'when an article is read, then 200; unknown slug, 404; a slug over 255 characters, 422',
    async () => {
      expect((await api.get(`/articles/${article.slug}`)).body.article.slug).toBe(article.slug);
      expect((await api.get('/articles/no-such-article')).status).toBe(404);
      expect((await api.get(`/articles/${'s'.repeat(256)}`)).status).toBe(422);
    },
  );

  scenario(
    'when the author edits, then 200; someone else, 403; unknown slug, 404; nothing to change, 422',
    async () => {
      const path = `/articles/${article.slug}`;
      const edit = { article: { description: 'Edited' } };
      const own = await api.put(path, { token: alice.token, body: edit });
      expect(own.status).toBe(200);
      expect(own.body.article.description).toBe('Edited');
      expect((await api.put(path, { token: bob.token, body: edit })).status).toBe(403);
      expect(
        (await api.put('/articles/no-such-article', { token: alice.token, body: edit })).status,
      ).toBe(404);
      expect((await api.put(path, { token: alice.token, body: { article: {} } })).status).toBe(422);
    },
  );

  scenario(
    'when the author deletes, then 204 and it is gone; someone else, 403; unknown slug, 404',
    async () => {
      const doomed = await api.createArticle(alice.token, { title: 'Short-lived' });
      const path = `/articles/${doomed.slug}`;
      expect((await api.delete(path, { token: bob.token })).status).toBe(403);
      const deleted = await api.delete(path, { token: alice.token });
      expect(deleted.status).toBe(204);
      expect(deleted.body).toBeUndefined();
      expect((await api.get(path)).status).toBe(404);
      expect((await api.delete(path, { token: alice.token })).status).toBe(404);
    },
  );
});

describe('favorites', () => {
  scenario(
    'when bob favorites and unfavorites, then 200 with the count moving; unknown slug, 404',
    async () => {
      const path = `/articles/${article.slug}/favorite`;
      const fav = await api.post(path, { token: bob.token });
      expect(fav.status).toBe(200);
      expect(fav.body.article).toMatchObject({ favorited: true, favoritesCount: 1 });
      const unfav = await api.delete(path, { token: bob.token });
      expect(unfav.status).toBe(200);
      expect(unfav.body.article).toMatchObject({ favorited: false, favoritesCount: 0 });
      expect((await api.post('/articles/nope/favorite', { token: bob.token })).status).toBe(404);
      expect((await api.delete('/articles/nope/favorite', { token: bob.token })).status).toBe(404);
    },
  );
});

describe('comments', () => {
  scenario('when comments are listed, then 200 oldest first; unknown slug, 404', async () => {
    const res = await api.get(`/articles/${article.slug}/comments`);
    expect(res.status).toBe(200);
    expect(res.body.comments[0].id).toBe(comment.id);
    expect((await api.get('/articles/nope/comments')).status).toBe(404);
  });

  scenario(
    'when bob comments, then 200; on an unknown slug, 404; with a blank body, 422',
    async () => {
      const path = `/articles/${article.slug}/comments`;
      const res = await api.post(path, { token: bob.token, body: { comment: { body: 'Nice' } } });
      expect(res.status).toBe(200);
      expect(res.body.comment.author.username).toBe(bob.username);
      expect(
        (
          await api.post('/articles/nope/comments', {
            token: bob.token,
            body: { comment: { body: 'x' } },
          })
        ).status,
      ).toBe(404);
      expect(
        (await api.post(path, { token: bob.token, body: { comment: { body: '   ' } } })).status,
      ).toBe(422);
    },
  );

  scenario(
    'when a comment is deleted: by someone else 403, by its author 204, again 404, id "abc" 422',
    async () => {
      const path = `/articles/${article.slug}/comments`;
      const { body } = await api.post(path, {
        token: bob.token,
        body: { comment: { body: 'Bye' } },
      });
      expect((await api.delete(`${path}/${body.comment.id}`, { token: alice.token })).status).toBe(
        403,
      );
      expect((await api.delete(`${path}/${body.comment.id}`, { token: bob.token })).status).toBe(
        204,
      );
      expect((await api.delete(`${path}/${body.comment.id}`, { token: bob.token })).status).toBe(
        404,
      );
      expect((await api.delete(`${path}/abc`, { token: bob.token })).status).toBe(422);
    },
  );
});

describe('tags', () => {
  scenario('when tags are listed, then 200 with the tags in use; limit=0, 422', async () => {
    const res = await api.get('/tags');
    expect(res.status).toBe(200);
    expect(res.body.tags).toContain('contract');
    expect((await api.get('/tags?limit=0')).status).toBe(422);
  });
});

describe('notifications', () => {
  scenario(
    'when bob lists, marks one and all read and sets the digest, then 200; alice marking his, 404',
    async () => {
      // A notification as the worker's fan-out writes it (no worker runs here).
      const [row] = await server.sql<{ id: string }>(
        `insert into notifications (user_id, article_id, created_at)
         select u.id, a.id, now() from users u, articles a where u.username = ? and a.slug = ?
         returning id::text as id`,
        [bob.username, article.slug],
      );
      const list = await api.get('/notifications', { token: bob.token });
      expect(list.status).toBe(200);
      expect(list.body).toMatchObject({ notificationsCount: 1, unreadCount: 1 });
      const path = `/notifications/${row!.id}/read`;
      expect((await api.post(path, { token: alice.token })).status).toBe(404);
      const marked = await api.post(path, { token: bob.token });
      expect(marked.status).toBe(200);
      expect(marked.body.notification.readAt).not.toBeNull();
      expect((await api.post('/notifications/read', { token: bob.token })).status).toBe(200);
      const settings = '/notifications/settings';
      expect((await api.get(settings, { token: bob.token })).status).toBe(200);
      const put = await api.put(settings, {
        token: bob.token,
        body: { settings: { digest: true } },
      });
      expect(put.status).toBe(200);
    },
  );
});

// The verdicts: they judge everything the scenarios recorded (and run any that did not run yet).
describe('the contract', () => {
  it('our document keeps every RealWorld path × method × status', () => {
    expect(Object.keys(realworld.paths).filter((p) => !(p in ours.paths))).toEqual([]);
    expect(missingFrom(ours, realworld)).toEqual([]);
  });

  it('every response had a documented status and matched both documents’ schemas', async () => {
    await scenariosUpTo(scenarios.length - 1);
    expect([...api.problems.values()]).toEqual([]);
    // Guards against a validator silently resolving to "no schema" and checking nothing.
    expect(api.contract.validated.ours).toBeGreaterThan(100);
    expect(api.contract.validated.realworld).toBeGreaterThan(50);
  }, 300_000);

  it('every documented operation × status was exercised against the real server', async () => {
    await scenariosUpTo(scenarios.length - 1);
    const documented = documentedPairs(ours);
    expect(documented.length).toBeGreaterThan(70);
    const missing = documented.filter((pair) => !api.exercised.has(pair));
    report(
      `contract coverage: ${documented.length - missing.length}/${documented.length} ` +
        `operation × status pairs, ${[...api.exercised.values()].reduce((a, b) => a + b, 0)} responses ` +
        `(${api.contract.validated.ours} validated against ours, ` +
        `${api.contract.validated.realworld} against RealWorld)`,
    );
    expect(missing).toEqual([]);
  }, 300_000);
});
