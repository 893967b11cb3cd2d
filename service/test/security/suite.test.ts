import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { bodyText, uniqueUser, type Account, type ApiResponse } from '../support/client.js';
import { inFlight } from '../support/concurrency.js';
import type { OpenApiDocument } from '../support/contract.js';
import {
  injectableOperations,
  injectionRequests,
  injectionTargets,
  type Fixtures,
  type InjectionActor,
} from '../support/injection.js';
import {
  dangersIn,
  LEAK_PATTERNS,
  OBJECT_PAYLOADS,
  STRING_PAYLOADS,
  XSS_VECTORS,
} from '../support/payloads.js';
import { report } from '../support/report.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startSession } from '../support/sessions.js';
import { articleChecksum, othersSnapshot, snapshot, userRow } from '../support/tables.js';

/**
 * The security acceptance suite (issue 3): injection, stored XSS, IDOR, admin escalation, JWT
 * tampering, CSRF, the login limiter and suspension, all against the real service over HTTP.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

// ---------------------------------------------------------------------------------------------
// 1. Injection
// ---------------------------------------------------------------------------------------------

describe('injection: every parameter of every operation', () => {
  let fixtures: Fixtures;

  beforeAll(async () => {
    const admin = await server.register('injadmin', 'admin');
    const victim = await server.register('injvictim');
    const viewer = await server.register('injviewer');
    // Through the API, so the audit log has an entry to protect.
    const role = await server.api.put(`/admin/users/${viewer.username}/role`, {
      token: admin.token,
      body: { user: { role: 'viewer' } },
    });
    expect(role.status).toBe(200);
    const published = await server.api.createArticle(victim.token, {
      title: 'Victim published',
      tagList: ['victim-tag'],
    });
    const draft = await server.api.post('/articles', {
      token: victim.token,
      body: {
        article: { title: 'Victim draft', description: 'd', body: 'b', status: 'draft' },
      },
    });
    const comment = await server.api.post(`/articles/${published.slug}/comments`, {
      token: victim.token,
      body: { comment: { body: 'Victim comment' } },
    });
    await server.api.post(`/articles/${published.slug}/favorite`, { token: viewer.token });
    await server.api.post(`/profiles/${victim.username}/follow`, { token: viewer.token });
    const dataExport = await server.api.post('/user/exports', { token: victim.token });
    expect(dataExport.status).toBe(202);
    fixtures = {
      admin,
      viewer,
      victim,
      published: published.slug,
      draft: draft.body.article.slug,
      commentId: comment.body.comment.id,
      exportId: dataExport.body.export.id,
    };
  });

  it('when payloads go into every path, query and body parameter, then no 5xx, no leaked internals, no slow sleep, and no data change', async () => {
    const doc = (await server.api.get<OpenApiDocument>('/openapi.json')).body;
    const operations = injectableOperations(doc);
    const aims = injectionTargets(fixtures);
    const injectable = operations.filter((op) => op.params.length + op.bodyFields.length > 0);
    expect(injectable.map((op) => op.operationId).filter((id) => !aims[id])).toEqual([]);

    const requests = injectable.flatMap((op) => injectionRequests(op, aims[op.operationId]!));
    const tokens: Record<InjectionActor, string | undefined> = {
      anonymous: undefined,
      viewer: fixtures.viewer.token,
      admin: fixtures.admin.token,
    };
    const before = await snapshot(server);
    const problems: string[] = [];
    let slowest = 0;
    const started = Date.now();
    await inFlight(requests, 4, async (req) => {
      const t0 = performance.now();
      const res = await server.api.request(req.method, req.url, {
        token: tokens[req.actor],
        body: req.body,
      });
      const ms = performance.now() - t0;
      if (req.sleeps) slowest = Math.max(slowest, ms);
      const text = bodyText(res);
      const report = (what: string) =>
        problems.push(
          `${req.label}: ${what} (${req.method} ${req.url.slice(0, 100)} → ${res.status} ${text.slice(0, 200)})`,
        );
      if (res.status >= 500) report('server error');
      const leak = LEAK_PATTERNS.find((p) => p.test(text));
      if (leak) report(`leaks ${leak}`);
      if (req.method !== 'GET' && res.status < 300) report('write succeeded');
      if (req.sleeps && ms >= 2000) report(`took ${Math.round(ms)} ms`);
      res.headers.forEach((value, name) => {
        if (/injected/i.test(name) || /injected/i.test(value)) report(`header ${name}: ${value}`);
      });
    });
    const after = await snapshot(server);

    const points = injectable.reduce((n, op) => n + op.params.length + op.bodyFields.length, 0);
    const payloadCount = STRING_PAYLOADS.length + OBJECT_PAYLOADS.length;
    report(
      `injection: ${requests.length} requests = ${payloadCount} payloads × ${points} parameters ` +
        `of ${injectable.length} operations in ${Date.now() - started} ms; slowest pg_sleep probe ` +
        `${Math.round(slowest)} ms; ${problems.length} problems`,
    );
    expect({ problems, tables: after }).toEqual({ problems: [], tables: before });
  }, 120_000);

  it('when an admin searches users for LIKE wildcards, then they match only themselves', async () => {
    const token = fixtures.admin.token;
    for (const q of ['%', '_', '%%', '\\']) {
      const res = await server.api.get(`/admin/users?q=${encodeURIComponent(q)}`, { token });
      expect(res.status).toBe(200);
      expect(res.body.usersCount).toBe(0);
    }
    const part = fixtures.victim.username.slice(3, 12);
    const res = await server.api.get(`/admin/users?q=${encodeURIComponent(part)}`, { token });
    expect(res.body.users.map((u: { username: string }) => u.username)).toEqual([
      fixtures.victim.username,
    ]);
  });

  it("when payloads are written where a write may succeed (the actor's own account, article and comment), then no 5xx, no leaked internals, and nobody else's rows change", async () => {
    const doc = (await server.api.get<OpenApiDocument>('/openapi.json')).body;
    const ops = new Map(injectableOperations(doc).map((op) => [op.operationId, op]));
    const actor = await server.register('injself');
    const own = await server.api.createArticle(actor.token, { title: 'Own article' });
    // Comments go to an article of their own: title payloads keep moving the first one's slug.
    const commented = await server.api.createArticle(actor.token, { title: 'Own commented' });
    const [{ id: actorId }] = (await server.sql<{ id: number }>(
      'select id from users where username = ?',
      [actor.username],
    )) as [{ id: number }];
    // Each field alone, so the write can succeed; the payload is the only thing being written.
    const aims: { op: string; url: () => string; base: (field: string[]) => unknown }[] = [
      { op: 'UpdateCurrentUser', url: () => '/user', base: () => ({ user: {} }) },
      {
        op: 'CreateArticle',
        url: () => '/articles',
        base: () => ({ article: { title: 'Self title', description: 'd', body: 'b' } }),
      },
      { op: 'UpdateArticle', url: () => `/articles/${slug}`, base: () => ({ article: {} }) },
      {
        op: 'CreateArticleComment',
        url: () => `/articles/${commented.slug}/comments`,
        base: () => ({ comment: {} }),
      },
    ];
    let slug = own.slug as string;
    const othersBefore = await othersSnapshot(server, actorId);
    const problems: string[] = [];
    let requests = 0;
    // Operations run side by side; each one's requests run in order (a title change moves the slug).
    await Promise.all(
      aims.map(async (aim) => {
        const op = ops.get(aim.op)!;
        for (const field of op.bodyFields) {
          for (const p of [...STRING_PAYLOADS, ...OBJECT_PAYLOADS]) {
            const value = field.array && typeof p.value === 'string' ? [p.value] : p.value;
            const body = structuredClone(aim.base(field.path)) as Record<
              string,
              Record<string, unknown>
            >;
            body[field.path[0]!]![field.path[1]!] = value;
            const res = await server.api.request(op.method, aim.url(), {
              token: actor.token,
              body,
            });
            requests += 1;
            const text = bodyText(res);
            const leak = LEAK_PATTERNS.find((re) => re.test(text));
            if (res.status >= 500 || leak) {
              problems.push(
                `${aim.op} body ${field.path.join('.')} ← ${p.name}: ${leak ? `leaks ${leak}` : 'server error'} (${op.method} ${aim.url()} → ${res.status} ${text.slice(0, 160)})`,
              );
            }
            if (aim.op === 'UpdateArticle' && res.status === 200) slug = res.body.article.slug;
          }
        }
      }),
    );
    report(`injection (own writes): ${requests} requests, ${problems.length} problems`);
    expect({ problems, others: await othersSnapshot(server, actorId) }).toEqual({
      problems: [],
      others: othersBefore,
    });
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------
// 2. Stored XSS
// ---------------------------------------------------------------------------------------------

describe('stored XSS in article bodies', () => {
  it('when article bodies carry XSS vectors, then bodyHtml is inert and body comes back byte for byte', async () => {
    const author = await server.register('xss');
    const problems: string[] = [];
    for (const vector of XSS_VECTORS) {
      const created = await server.api.post('/articles', {
        token: author.token,
        body: { article: { title: `xss ${vector.name}`, description: 'd', body: vector.body } },
      });
      expect(created.status).toBe(201);
      const read = await server.api.get(`/articles/${created.body.article.slug}`);
      for (const [where, article] of [
        ['create', created.body.article],
        ['read', read.body.article],
      ] as const) {
        const dangers = dangersIn(article.bodyHtml);
        if (dangers.length > 0) problems.push(`${vector.name} (${where}): ${dangers.join('; ')}`);
        if (article.body !== vector.body) problems.push(`${vector.name} (${where}): body altered`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('when a body has a safe link and image, then they survive sanitising', async () => {
    const author = await server.register('xssok');
    const article = await server.api.createArticle(author.token, {
      body: '[ok](https://example.com/a) ![i](https://example.com/i.png)',
    });
    expect(article.bodyHtml).toContain('href="https://example.com/a"');
    expect(article.bodyHtml).toContain('src="https://example.com/i.png"');
    expect(dangersIn(article.bodyHtml)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// 3. IDOR
// ---------------------------------------------------------------------------------------------

describe('cross-user writes (IDOR)', () => {
  let owner: Account;
  let other: Account;
  let viewer: Account;
  let published: string;
  let draft: string;
  let ownerComment: number;
  let ownerCommentOnOthers: string;
  let otherArticle: string;

  beforeAll(async () => {
    owner = await server.register('owner');
    other = await server.register('other');
    viewer = await server.register('idorviewer', 'viewer');
    published = (await server.api.createArticle(owner.token, { title: 'Owner article' })).slug;
    const d = await server.api.post('/articles', {
      token: owner.token,
      body: { article: { title: 'Owner draft', description: 'd', body: 'b', status: 'draft' } },
    });
    draft = d.body.article.slug;
    ownerComment = (
      await server.api.post(`/articles/${published}/comments`, {
        token: owner.token,
        body: { comment: { body: 'mine' } },
      })
    ).body.comment.id;
    otherArticle = (await server.api.createArticle(other.token, { title: 'Other article' })).slug;
    ownerCommentOnOthers = String(
      (
        await server.api.post(`/articles/${otherArticle}/comments`, {
          token: owner.token,
          body: { comment: { body: 'mine on yours' } },
        })
      ).body.comment.id,
    );
  });

  const update = { article: { title: 'Hijacked', body: 'Hijacked', status: 'draft' } };

  it.each(['author', 'viewer'] as const)(
    "when a %s updates or deletes someone else's article or comment, then 403 and nothing changed",
    async (who) => {
      const token = who === 'author' ? other.token : viewer.token;
      const articleBefore = await articleChecksum(server, published);
      const [commentsBefore] = await server.sql('select count(*)::int as n from comments');
      const writes = [
        server.api.put(`/articles/${published}`, { token, body: update }),
        server.api.delete(`/articles/${published}`, { token }),
        server.api.delete(`/articles/${published}/comments/${ownerComment}`, { token }),
        // Owning the article does not make someone else's comment on it yours.
        ...(who === 'author'
          ? [
              server.api.delete(`/articles/${otherArticle}/comments/${ownerCommentOnOthers}`, {
                token,
              }),
            ]
          : []),
      ];
      for (const res of await Promise.all(writes)) expect(res.status).toBe(403);
      expect(await articleChecksum(server, published)).toBe(articleBefore);
      expect((await server.sql('select count(*)::int as n from comments'))[0]).toEqual(
        commentsBefore,
      );
    },
  );

  it("when someone else reads or writes an author's draft, then 404 as if it did not exist", async () => {
    const before = await articleChecksum(server, draft);
    for (const token of [other.token, viewer.token, undefined]) {
      const requests = [
        server.api.get(`/articles/${draft}`, { token }),
        server.api.get(`/articles/${draft}/comments`, { token }),
        ...(token
          ? [
              server.api.put(`/articles/${draft}`, { token, body: update }),
              server.api.delete(`/articles/${draft}`, { token }),
              server.api.post(`/articles/${draft}/favorite`, { token }),
              server.api.delete(`/articles/${draft}/favorite`, { token }),
              server.api.post(`/articles/${draft}/comments`, {
                token,
                body: { comment: { body: 'x' } },
              }),
            ]
          : []),
      ];
      for (const res of await Promise.all(requests)) expect(res.status).toBe(404);
      const drafts = await server.api.get(`/articles?status=draft&author=${owner.username}`, {
        token,
      });
      expect(drafts.body.articlesCount).toBe(0);
    }
    expect(await articleChecksum(server, draft)).toBe(before);
  });

  it("when a user updates their account, then only the token's own user changes and others' identities cannot be taken", async () => {
    const ownerBefore = await userRow(server, owner.username);
    const res = await server.api.put('/user', {
      token: other.token,
      body: { user: { bio: 'changed by other', image: 'https://example.com/o.png' } },
    });
    expect(res.status).toBe(200);
    expect(res.body.user.username).toBe(other.username);
    const [otherRow] = await server.sql<{ bio: string }>(
      'select bio from users where username = ?',
      [other.username],
    );
    expect(otherRow!.bio).toBe('changed by other');
    for (const user of [{ email: owner.email }, { username: owner.username }]) {
      const taken = await server.api.put('/user', { token: other.token, body: { user } });
      expect(taken.status).toBe(422);
    }
    expect(await userRow(server, owner.username)).toEqual(ownerBefore);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Admin API and role escalation
// ---------------------------------------------------------------------------------------------

describe('admin API and role escalation', () => {
  let admin: Account;

  beforeAll(async () => {
    admin = await server.register('admin', 'admin');
  });

  /** A valid request for every /admin operation, from the OpenAPI document. */
  async function adminRequests(targetUser: string) {
    const doc = (await server.api.get<OpenApiDocument>('/openapi.json')).body;
    const bodies: Record<string, unknown> = {
      AdminChangeRole: { user: { role: 'admin' } },
      AdminSetMaintenance: { maintenance: { writeFreeze: true } },
    };
    const ops = injectableOperations(doc).filter((op) => op.path.startsWith('/admin/'));
    for (const op of ops.filter((o) => o.bodyFields.length > 0)) {
      if (!bodies[op.operationId]) throw new Error(`no valid body for ${op.operationId}`);
    }
    return ops.map((op) => ({
      op,
      url: op.path
        .replace('{username}', targetUser)
        .replace('{queue}', 'maintenance')
        .replace('{id}', '1'),
      body: bodies[op.operationId],
    }));
  }

  it.each(['viewer', 'author', 'editor'] as const)(
    'when a %s calls any admin operation, then 403 and nothing changes',
    async (role) => {
      const caller = await server.register(`adm${role}`, role === 'author' ? undefined : role);
      const target = await server.register('admtarget');
      const requests = await adminRequests(target.username);
      expect(requests.length).toBeGreaterThanOrEqual(7);
      const before = await snapshot(server);
      for (const { op, url, body } of requests) {
        const res = await server.api.request(op.method, url, { token: caller.token, body });
        expect({ op: op.operationId, status: res.status }).toEqual({
          op: op.operationId,
          status: 403,
        });
        const anonymous = await server.api.request(op.method, url, { body });
        expect({ op: op.operationId, status: anonymous.status }).toEqual({
          op: op.operationId,
          status: 401,
        });
      }
      expect(await snapshot(server)).toEqual(before);
    },
  );

  it.each(['viewer', 'author'] as const)(
    'when a %s tries to raise their own role, then the role is unchanged',
    async (role) => {
      const user = await server.register(`raise${role}`, role === 'viewer' ? 'viewer' : undefined);
      for (const body of [
        { user: { role: 'admin' } },
        { user: { bio: 'promote me', role: 'admin' } },
      ]) {
        const res = await server.api.put('/user', { token: user.token, body });
        expect([200, 422]).toContain(res.status);
        expect((await userRow(server, user.username)).role).toBe(role);
      }
      const self = await server.api.put(`/admin/users/${user.username}/role`, {
        token: user.token,
        body: { user: { role: 'admin' } },
      });
      expect(self.status).toBe(403);
      expect((await userRow(server, user.username)).role).toBe(role);
    },
  );

  it('when someone registers with a role, then they get the default role', async () => {
    const user = uniqueUser('regrole');
    const res = await server.api.post('/users', { body: { user: { ...user, role: 'admin' } } });
    expect(res.status === 201 ? res.body.user.role : res.status).not.toBe('admin');
    if (res.status === 201) expect((await userRow(server, user.username)).role).toBe('author');
  });

  it('when an admin changes or suspends themselves, then 422 and nothing changes', async () => {
    const res = await server.api.put(`/admin/users/${admin.username}/role`, {
      token: admin.token,
      body: { user: { role: 'viewer' } },
    });
    expect(res.status).toBe(422);
    const suspend = await server.api.post(`/admin/users/${admin.username}/suspension`, {
      token: admin.token,
    });
    expect(suspend.status).toBe(422);
    const row = await userRow(server, admin.username);
    expect(row.role).toBe('admin');
    expect((await server.api.get('/user', { token: admin.token })).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. JWT tampering
// ---------------------------------------------------------------------------------------------

describe('JWT tampering', () => {
  let user: Account;
  let victimId: number;
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const kidOf = (secret: string) => createHash('sha256').update(secret).digest('hex').slice(0, 16);
  const key = (secret: string) => new TextEncoder().encode(secret);

  beforeAll(async () => {
    user = await server.register('jwt');
    victimId = (await userRow(server, (await server.register('jwtvictim')).username)).id;
  });

  async function signed(
    claims: { sub?: string; iss?: string; aud?: string; iat?: number; exp?: number },
    options: { secret?: string; kid?: string | null } = {},
  ): Promise<string> {
    const secret = options.secret ?? server.config.JWT_SECRET;
    const now = Math.floor(Date.now() / 1000);
    const kid = options.kid === undefined ? kidOf(server.config.JWT_SECRET) : options.kid;
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...(kid === null ? {} : { kid }) })
      .setSubject(claims.sub ?? String(victimId))
      .setIssuer(claims.iss ?? 'plinth')
      .setAudience(claims.aud ?? 'plinth-api')
      .setIssuedAt(claims.iat ?? now)
      .setExpirationTime(claims.exp ?? now + 3600)
      .sign(key(secret));
  }

  const asBoth = async (token: string) => {
    const statuses = [];
    for (const scheme of ['Token', 'Bearer']) {
      const res = await server.api.get('/user', {
        headers: { Authorization: `${scheme} ${token}` },
      });
      statuses.push(res.status);
    }
    return statuses;
  };

  it('when a genuine token is sent as Token or Bearer, then it is accepted (the forgeries below are the only difference)', async () => {
    expect(await asBoth(user.token)).toEqual([200, 200]);
    expect(await asBoth(await signed({}))).toEqual([200, 200]);
  });

  it('when a token is tampered with, then 401 under both schemes', async () => {
    const [header, payload, signature] = user.token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const now = Math.floor(Date.now() / 1000);
    const cases: Record<string, string> = {
      'sub changed, original signature': `${header}.${b64({ ...claims, sub: String(victimId) })}.${signature}`,
      'alg none, empty signature': `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, sub: String(victimId) })}.`,
      'alg none, kept signature': `${b64({ alg: 'none', typ: 'JWT', kid: kidOf(server.config.JWT_SECRET) })}.${payload}.${signature}`,
      'wrong key, right kid': await signed(
        {},
        { secret: 'an-attacker-secret-long-enough-for-hs256-0000' },
      ),
      'unknown kid': await signed({}, { kid: 'deadbeefdeadbeef' }),
      'no kid': await signed({}, { kid: null }),
      expired: await signed({ iat: now - 7200, exp: now - 3600 }),
      'wrong issuer': await signed({ iss: 'someone-else' }),
      'wrong audience': await signed({ aud: 'another-api' }),
      'non-numeric sub': await signed({ sub: "1' OR '1'='1" }),
      'sub of nobody': await signed({ sub: '2147483000' }),
      garbage: 'not-a-jwt',
      'garbage in jwt shape': 'aaaa.bbbb.cccc',
    };
    const results = Object.fromEntries(
      await Promise.all(
        Object.entries(cases).map(async ([name, token]) => [name, await asBoth(token)] as const),
      ),
    );
    expect(results).toEqual(Object.fromEntries(Object.keys(cases).map((n) => [n, [401, 401]])));
  });

  it('when the user behind a valid token is deleted, then 401', async () => {
    const doomed = await server.register('jwtdeleted');
    expect((await server.api.get('/user', { token: doomed.token })).status).toBe(200);
    await server.sql('delete from users where username = ?', [doomed.username]);
    expect(await asBoth(doomed.token)).toEqual([401, 401]);
  });

  it('when the user logs out everywhere, then tokens issued before are rejected', async () => {
    const account = await server.register('jwtlogout');
    const login = await server.api.post('/users/login', {
      body: { user: { email: account.email, password: account.password } },
    });
    const second = login.body.user.token as string;
    const res = await server.api.delete('/sessions', { token: account.token });
    expect(res.status).toBe(204);
    expect(await asBoth(account.token)).toEqual([401, 401]);
    expect(await asBoth(second)).toEqual([401, 401]);
  });

  it('when a user logs in again in the same second as "log out everywhere", then the new token works', async () => {
    const account = await server.register('jwtsamesecond');
    // Start at the top of a second so the revocation and the new login share it.
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
    expect((await server.api.delete('/sessions', { token: account.token })).status).toBe(204);
    const login = await server.api.post('/users/login', {
      body: { user: { email: account.email, password: account.password } },
    });
    expect(login.status).toBe(200);
    expect((await server.api.get('/user', { token: login.body.user.token })).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
// 6. CSRF
// ---------------------------------------------------------------------------------------------

describe('CSRF on cookie sessions', () => {
  it('when a cookie-authenticated write lacks the CSRF token or has a wrong one, then 403 and nothing written; with it, success', async () => {
    const account = await server.register('csrf');
    const { cookie, csrf } = await startSession(server, account);
    const mine = await server.api.createArticle(account.token, { title: 'CSRF target' });
    const newArticle = { article: { title: 'Via cookie', description: 'd', body: 'b' } };
    const writes = [
      { method: 'POST', path: '/articles', body: newArticle },
      { method: 'PUT', path: '/user', body: { user: { bio: 'csrf bio' } } },
      { method: 'PUT', path: `/articles/${mine.slug}`, body: { article: { title: 'Changed' } } },
      { method: 'POST', path: `/articles/${mine.slug}/favorite` },
      { method: 'DELETE', path: `/articles/${mine.slug}` },
      { method: 'DELETE', path: '/sessions' },
    ];
    const before = await snapshot(server);
    for (const wrong of [undefined, 'wrong', csrf.slice(0, -1), `${csrf}x`, '']) {
      for (const w of writes) {
        const headers: Record<string, string> = { Cookie: cookie };
        if (wrong !== undefined) headers['X-CSRF-Token'] = wrong;
        const res = await server.api.request(w.method, w.path, { body: w.body, headers });
        expect({ write: `${w.method} ${w.path}`, csrf: wrong, status: res.status }).toEqual({
          write: `${w.method} ${w.path}`,
          csrf: wrong,
          status: 403,
        });
      }
    }
    expect(await snapshot(server)).toEqual(before);
    // The session survived the refused "log out everywhere".
    const headers = { Cookie: cookie, 'X-CSRF-Token': csrf };
    expect((await server.api.get('/user', { headers: { Cookie: cookie } })).status).toBe(200);
    const created = await server.api.post('/articles', { body: newArticle, headers });
    expect(created.status).toBe(201);
    expect((await server.api.put('/user', { body: writes[1]!.body, headers })).status).toBe(200);
    expect((await server.api.delete(`/articles/${mine.slug}`, { headers })).status).toBe(204);
  });

  it('when the same write uses a bearer token, then no CSRF token is needed', async () => {
    const account = await server.register('csrfbearer');
    const res = await server.api.post('/articles', {
      token: account.token,
      body: { article: { title: 'Via token', description: 'd', body: 'b' } },
    });
    expect(res.status).toBe(201);
  });

  it("when a cookie is sent with another session's CSRF token, then 403", async () => {
    const a = await server.register('csrfa');
    const b = await server.register('csrfb');
    const sa = await startSession(server, a);
    const sb = await startSession(server, b);
    const res = await server.api.put('/user', {
      body: { user: { bio: 'crossed' } },
      headers: { Cookie: sa.cookie, 'X-CSRF-Token': sb.csrf },
    });
    expect(res.status).toBe(403);
  });
});

// ---------------------------------------------------------------------------------------------
// 7. Login limiter
// ---------------------------------------------------------------------------------------------

describe('login limiter', () => {
  let limited: TestServer;
  let octet = 0;
  const from = () => ({ 'X-Forwarded-For': `198.51.100.${++octet}` });

  beforeAll(async () => {
    limited = await startTestServer(
      {
        RATE_LIMIT_ENABLED: 'true',
        TRUST_PROXY: 'true',
        RATE_LIMIT_PER_MINUTE: '1000',
        RATE_LIMIT_AUTH_PER_MINUTE: '5',
        RATE_LIMIT_LOGIN_PER_ACCOUNT: '3',
      },
      { databaseUrl: server.db.url },
    );
  });
  afterAll(() => limited.close());

  const expect429 = (res: ApiResponse, maxSeconds: number) => {
    expect(res.status).toBe(429);
    const retryAfter = res.headers.get('retry-after') ?? '';
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(maxSeconds);
  };

  it('when one account has too many failed logins, then 429 with Retry-After, even with the right password and on the session route', async () => {
    const user = uniqueUser('limit');
    expect((await limited.api.post('/users', { body: { user }, headers: from() })).status).toBe(
      201,
    );
    const login = (password: string, path = '/users/login') =>
      limited.api.post(path, { body: { user: { email: user.email, password } }, headers: from() });
    for (let i = 0; i < 3; i += 1) expect((await login('wrong password')).status).toBe(401);
    expect429(await login('wrong password'), 15 * 60);
    expect429(await login(user.password), 15 * 60);
    expect429(await login(user.password, '/sessions'), 15 * 60);
  });

  it('when one address calls the auth routes too often, then 429 with Retry-After', async () => {
    const headers = from();
    for (let i = 0; i < 5; i += 1) {
      const res = await limited.api.post('/users/login', {
        body: { user: { email: `nobody${i}@example.com`, password: 'x' } },
        headers,
      });
      expect(res.status).toBe(401);
    }
    expect429(
      await limited.api.post('/sessions', {
        body: { user: { email: 'nobody@example.com', password: 'x' } },
        headers,
      }),
      60,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// 8. Suspension
// ---------------------------------------------------------------------------------------------

describe('suspension', () => {
  it('when an admin suspends a user, then token, cookie and both logins are refused on the next request; reactivation allows new logins only', async () => {
    const admin = await server.register('susadmin', 'admin');
    const user = await server.register('suspended');
    const session = await startSession(server, user);
    const cookieHeaders = { Cookie: session.cookie, 'X-CSRF-Token': session.csrf };
    expect((await server.api.get('/user', { token: user.token })).status).toBe(200);
    expect((await server.api.get('/user', { headers: cookieHeaders })).status).toBe(200);

    const suspend = await server.api.post(`/admin/users/${user.username}/suspension`, {
      token: admin.token,
    });
    expect(suspend.status).toBe(200);
    expect(suspend.body.user.suspended).toBe(true);

    const credentials = { user: { email: user.email, password: user.password } };
    const refused = await Promise.all([
      server.api.get('/user', { token: user.token }),
      server.api.get('/user', { headers: { Authorization: `Bearer ${user.token}` } }),
      server.api.get('/user', { headers: cookieHeaders }),
      server.api.get('/sessions/current', { headers: cookieHeaders }),
      server.api.put('/user', { body: { user: { bio: 'still here' } }, headers: cookieHeaders }),
      server.api.post('/articles', {
        token: user.token,
        body: { article: { title: 't', description: 'd', body: 'b' } },
      }),
      server.api.post('/users/login', { body: credentials }),
      server.api.post('/sessions', { body: credentials }),
    ]);
    expect(refused.map((r) => r.status)).toEqual([401, 401, 401, 401, 401, 401, 401, 401]);

    const reactivate = await server.api.delete(`/admin/users/${user.username}/suspension`, {
      token: admin.token,
    });
    expect(reactivate.status).toBe(200);
    expect(reactivate.body.user.suspended).toBe(false);
    const login = await server.api.post('/users/login', { body: credentials });
    expect(login.status).toBe(200);
    expect((await server.api.get('/user', { token: login.body.user.token })).status).toBe(200);
    const fresh = await startSession(server, user);
    expect((await server.api.get('/user', { headers: { Cookie: fresh.cookie } })).status).toBe(200);
    expect((await server.api.get('/user', { token: user.token })).status).toBe(401);
    expect((await server.api.get('/user', { headers: { Cookie: session.cookie } })).status).toBe(
      401,
    );
  });
});
