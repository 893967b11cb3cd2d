import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Tokens } from '../../src/modules/users/tokens.js';
import {
  arbitraryFromSchema,
  garbageAuthorization,
  hostileString,
} from '../support/arbitraries.js';
import {
  uniqueUser,
  type Account,
  type ApiResponse,
  type RequestOptions,
} from '../support/client.js';
import { inFlight } from '../support/concurrency.js';
import {
  Contract,
  RecordingClient,
  deref,
  fetchPublishedDocument,
  loadRealWorldDocument,
  operationsOf,
  type JsonSchema,
  type OpenApiDocument,
  type Operation,
} from '../support/contract.js';
import { report } from '../support/report.js';
import { createDeadLetter, type DeadLetter } from '../support/dead-letters.js';
import { form, sampleImage, tempStorage } from '../support/images.js';
import { startTestServer, type TestServer } from '../support/server.js';

/*
 * Property: whatever a client sends — generated from our published schemas, built from values the
 * server handed out earlier, or deliberately malformed — the server answers with a 4xx or a 2xx,
 * never a 5xx, and leaves the database consistent. Reproduce a run with FC_SEED=<seed>.
 *
 * The whole exchange happens in `beforeAll`: first one well-formed request per operation on state
 * seeded for it (so every operation's success path is reached whatever the seed), then the
 * generated traffic. Each test checks one thing about that exchange, so any test run alone
 * (`jest -t`) sees all of it.
 */

const SEED = process.env.FC_SEED
  ? Number(process.env.FC_SEED)
  : Date.now() ^ (Math.random() * 2 ** 31);
const RUNS = 10;
const REQUESTS_PER_RUN = 250;
// Concurrency is what finds races; PROP_IN_FLIGHT=1 replays a seed without them, to tell a race
// from an input bug.
const IN_FLIGHT = Number(process.env.PROP_IN_FLIGHT ?? 4);
/** The seeded requests and the generated traffic, in `beforeAll`. */
const TRAFFIC_TIMEOUT_MS = 180_000;

let server: TestServer;
let storage: Awaited<ReturnType<typeof tempStorage>>;
let doc: OpenApiDocument;
let api: RecordingClient;
let ops: Operation[];

interface PoolUser {
  username: string;
  email: string;
  password: string;
  token: string;
  id: number;
}
/** Values the server handed out, so generated requests can reach real rows (and 2xx). */
const pool = {
  /** Promoted with SQL; only known-mode requests to /admin operations use its token. */
  admin: undefined as PoolUser | undefined,
  users: [] as PoolUser[],
  articles: [] as { slug: string; author: string }[],
  comments: [] as { slug: string; id: number; author: string }[],
  /** Data exports and the user who requested each. */
  exports: [] as { id: string; owner: string }[],
  usernames: new Set<string>(),
  tags: new Set<string>(),
};

const pick = <T>(items: readonly T[], index: number): T | undefined =>
  items.length === 0 ? undefined : items[index % items.length];

const userNamed = (username: string) => pool.users.find((u) => u.username === username);

/** The user id a token carries (its `sub`), so expired tokens can be minted for real users. */
const subjectOf = (token: string): number =>
  Number(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub);

/** Starts the server and fills the pools the generated requests draw on. */
async function seedPools(): Promise<void> {
  report(`property test seed: ${SEED} (reproduce with FC_SEED=${SEED})`);
  storage = await tempStorage();
  server = await startTestServer({ LOG_LEVEL: 'warn', STORAGE_DIR: storage.dir });
  doc = await fetchPublishedDocument(server.baseUrl);
  api = new RecordingClient(`${server.baseUrl}/api`, new Contract(doc, loadRealWorldDocument()));
  ops = operationsOf(doc);
  // A few users with articles, comments and follows to start from; set up with the plain client
  // so that only generated requests count towards the per-operation figures.
  for (let i = 0; i < 4; i++) {
    const user = await server.api.register('prop');
    pool.users.push({ ...user, id: subjectOf(user.token) });
    pool.usernames.add(user.username);
    for (const title of [`Seed ${i}`, `Seed ${i} again`]) {
      const article = await server.api.createArticle(user.token, { title, tagList: [`t${i}`] });
      pool.articles.push({ slug: article.slug, author: user.username });
      pool.tags.add(`t${i}`);
      const comment = await server.api.post(`/articles/${article.slug}/comments`, {
        token: user.token,
        body: { comment: { body: `Comment on ${title}` } },
      });
      pool.comments.push({
        slug: article.slug,
        id: comment.body.comment.id,
        author: user.username,
      });
    }
  }
  await server.api.post(`/profiles/${pool.users[1]!.username}/follow`, {
    token: pool.users[0]!.token,
  });
  const admin = await server.register('propadmin', 'admin');
  pool.admin = { ...admin, id: subjectOf(admin.token) };
  // The server's own signer with a negative lifetime: validly signed, already expired.
  expiredTokens = new Tokens({ ...server.config, JWT_TTL_SECONDS: -3600 });
  unknownUserToken = await new Tokens(server.config).sign(2_000_000_000);
}

// ---------------------------------------------------------------------------------------------
// Generation: one plan per request. Plans are pure data; values that depend on what the server
// answered earlier (slugs, comment ids, tokens) are picked by index when the plan runs.

type AuthPlan =
  | { kind: 'valid'; user: number }
  | { kind: 'none' }
  | { kind: 'header'; value: string }
  | { kind: 'expired'; user: number }
  | { kind: 'deleted-user' };

type BodyPlan =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown }
  | { kind: 'raw'; text: string; contentType: string }
  /** Filled in when the plan runs: a fresh registration or a known user's credentials. */
  | { kind: 'known' };

interface Plan {
  op: Operation;
  mode: 'known' | 'schema' | 'malformed';
  auth: AuthPlan;
  /** Index into the pools for known slugs, usernames and comments. */
  pick: number;
  /** For known-mode writes to owned rows: act as the owner, or as someone else (403). */
  asOwner: boolean;
  /** Path parameters for schema and malformed modes (known mode takes them from the pools). */
  params: Record<string, string>;
  query: [string, string][];
  body: BodyPlan;
  /** What the malformed variant broke, for failure messages. */
  mutation?: string;
}

const MUTATIONS = [
  'unknown-query',
  'hostile-query',
  'bad-pagination',
  'hostile-params',
  'wrong-types',
  'missing-envelope',
  'extra-fields',
  'hostile-fields',
  'huge-field',
  'malformed-json',
  'wrong-content-type',
] as const;

const authArbitrary: fc.Arbitrary<AuthPlan> = fc.oneof(
  // Valid auth on 60% of requests; the test checks the share actually reached is at least half.
  { weight: 60, arbitrary: fc.nat().map((user) => ({ kind: 'valid' as const, user })) },
  { weight: 16, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 16,
    arbitrary: garbageAuthorization.map((value) => ({ kind: 'header' as const, value })),
  },
  { weight: 4, arbitrary: fc.nat().map((user) => ({ kind: 'expired' as const, user })) },
  { weight: 4, arbitrary: fc.constant({ kind: 'deleted-user' as const }) },
);

function resolver(ref: string): JsonSchema {
  return deref<JsonSchema>(doc, { $ref: ref });
}

const fromSchema = (schema: JsonSchema) => arbitraryFromSchema(schema, { resolve: resolver });

/**
 * Which credentials a body asks for: `register` (username, email, password), `login` (email and
 * password), or neither. Read from the schema, so new login-like operations are covered too.
 */
function credentialsKind(op: Operation): 'register' | 'login' | undefined {
  if (!op.body) return undefined;
  const envelope = deref<JsonSchema>(doc, op.body).properties?.user;
  const required: string[] = envelope ? (deref<JsonSchema>(doc, envelope).required ?? []) : [];
  if (required.includes('username')) return 'register';
  if (required.includes('email') && required.includes('password')) return 'login';
  return undefined;
}

/** No blank or control-character text anywhere, and no empty object: what the server accepts. */
function acceptable(value: unknown): boolean {
  if (typeof value === 'string') {
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    return value.trim() !== '' && !/[\u0000-\u001f\u007f]/.test(value);
  }
  if (Array.isArray(value)) return value.every(acceptable);
  if (value && typeof value === 'object') {
    const fields = Object.values(value);
    return fields.length > 0 && fields.every(acceptable);
  }
  return true;
}

/**
 * The request body a well-meaning client would send, per operation. `strict`: schema-generated
 * bodies are also held to the rules a JSON Schema cannot state (blank text, control characters,
 * "at least one field"), so the server accepts every one of them.
 */
function goodBody(op: Operation, strict = false): fc.Arbitrary<BodyPlan> {
  if (credentialsKind(op)) return fc.constant({ kind: 'known' });
  switch (op.operationId) {
    case 'AdminChangeRole':
      // Only the pool's admin may be an admin: another could freeze writes with a generated body.
      return fc
        .constantFrom('viewer', 'author', 'editor')
        .map((role) => ({ kind: 'json', value: { user: { role } } }));
    case 'AdminSetMaintenance':
      // A write freeze turns every write into a documented 503, which this property excludes;
      // the freeze itself is covered by the contract-coverage test.
      return fc.constant({ kind: 'json', value: { maintenance: { writeFreeze: false } } });
    case 'UpdateCurrentUser':
      // Schema-generated emails are rarely valid; a profile edit is what reaches 200.
      return fc
        .record(
          {
            bio: fc.oneof(fc.string({ maxLength: 40 }), fc.constant(null)),
            image: fc.constantFrom('', null, 'https://example.com/avatar.png'),
          },
          { requiredKeys: ['bio'] },
        )
        .map((user) => ({ kind: 'json', value: { user } }));
  }
  if (!op.body) return fc.constant({ kind: 'none' as const });
  const value = fromSchema(op.body);
  return (strict ? value.filter(acceptable) : value).map((v) => ({
    kind: 'json' as const,
    value: v,
  }));
}

// URLs cannot carry `.` or `..` as a path segment (fetch resolves them, even percent-encoded).
const segment = (s: string) => s !== '.' && s !== '..';
const hostileSegment = hostileString.filter(segment);

function paramsArbitrary(op: Operation, hostile: boolean): fc.Arbitrary<Record<string, string>> {
  const model: Record<string, fc.Arbitrary<string>> = {};
  for (const p of op.params.filter((x) => x.in === 'path')) {
    model[p.name] = hostile
      ? hostileSegment
      : fromSchema(p.schema ?? {})
          .map(String)
          .filter(segment);
  }
  return fc.record(model);
}

function queryArbitrary(op: Operation): fc.Arbitrary<[string, string][]> {
  const model: Record<string, fc.Arbitrary<string>> = {};
  for (const p of op.params.filter((x) => x.in === 'query')) {
    model[p.name] = fromSchema(p.schema ?? {}).map(String);
  }
  return fc
    .record(model, { requiredKeys: [] })
    .map((q) => Object.entries(q).filter((e): e is [string, string] => e[1] !== undefined));
}

/** Breaks one aspect of an otherwise schema-shaped request. */
function mutate(
  op: Operation,
  mutation: (typeof MUTATIONS)[number],
  base: { query: [string, string][]; body: BodyPlan },
  noise: { hostile: string; anything: unknown; key: string; hugeLength: number; cut: number },
): { query: [string, string][]; body: BodyPlan } {
  const json = base.body.kind === 'json' ? base.body.value : undefined;
  const envelope = json && typeof json === 'object' ? Object.keys(json)[0] : undefined;
  const inner = envelope ? (json as Record<string, unknown>)[envelope] : undefined;
  const mapStrings = (value: unknown, f: (s: string) => string): unknown =>
    typeof value === 'string'
      ? f(value)
      : Array.isArray(value)
        ? value.map((v) => mapStrings(v, f))
        : value && typeof value === 'object'
          ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, f)]))
          : value;
  const body = (value: unknown): BodyPlan => ({ kind: 'json', value });
  // Body mutations only make sense for operations that take a body.
  const notBody = ['unknown-query', 'hostile-query', 'bad-pagination', 'hostile-params'];
  if (!op.body && !notBody.includes(mutation)) {
    mutation = 'unknown-query';
  }
  switch (mutation) {
    case 'unknown-query':
      return { ...base, query: [...base.query, [`x${noise.key}`, noise.hostile]] };
    case 'hostile-query': {
      const names = op.params.filter((p) => p.in === 'query').map((p) => p.name);
      if (names.length === 0) return { ...base, query: [[`x${noise.key}`, noise.hostile]] };
      return { ...base, query: names.map((n) => [n, noise.hostile] as [string, string]) };
    }
    case 'bad-pagination':
      return {
        ...base,
        query: [
          ...base.query.filter(([k]) => k !== 'limit'),
          ['limit', noise.hostile],
          ...(noise.cut % 2 ? ([['offset', String(-noise.cut)]] as [string, string][]) : []),
        ],
      };
    case 'hostile-params':
      return base;
    case 'wrong-types':
      return {
        ...base,
        body: body(noise.cut % 2 && envelope ? { [envelope]: noise.anything } : noise.anything),
      };
    case 'missing-envelope':
      return { ...base, body: body(inner ?? {}) };
    case 'extra-fields':
      return {
        ...base,
        body: body({
          ...(json as object),
          [noise.key]: noise.hostile,
          ...(envelope && inner && typeof inner === 'object'
            ? { [envelope]: { ...inner, [noise.key]: noise.anything, id: 1, author: 'x' } }
            : {}),
        }),
      };
    case 'hostile-fields':
      return { ...base, body: body(mapStrings(json, () => noise.hostile)) };
    case 'huge-field':
      return { ...base, body: body(mapStrings(json, () => 'x'.repeat(noise.hugeLength))) };
    case 'malformed-json': {
      const text = JSON.stringify(json ?? {});
      return {
        ...base,
        body: {
          kind: 'raw',
          text: text.slice(0, Math.max(1, text.length - 1 - (noise.cut % text.length))),
          contentType: 'application/json',
        },
      };
    }
    case 'wrong-content-type':
      return {
        ...base,
        body: {
          kind: 'raw',
          text:
            noise.cut % 2
              ? JSON.stringify(json)
              : `user=${encodeURIComponent(noise.hostile.toWellFormed())}`,
          contentType: [
            'text/plain',
            'application/x-www-form-urlencoded',
            'application/xml',
            'multipart/form-data; boundary=x',
          ][noise.cut % 4]!,
        },
      };
  }
}

function planArbitrary(op: Operation): fc.Arbitrary<Plan> {
  return fc
    .record({
      mode: fc.constantFrom('known', 'known', 'schema', 'malformed', 'malformed'),
      auth: authArbitrary,
      // Half the time one of the first few rows: concurrent requests then meet on the same
      // article or user, which is where races live.
      pick: fc.oneof(fc.nat({ max: 2 }), fc.nat()),
      asOwner: fc.nat({ max: 3 }).map((n) => n > 0),
      params: paramsArbitrary(op, false),
      hostileParams: paramsArbitrary(op, true),
      query: queryArbitrary(op),
      schemaBody: op.body
        ? fromSchema(op.body).map((value) => ({ kind: 'json' as const, value }))
        : fc.constant({ kind: 'none' as const }),
      goodBody: goodBody(op),
      mutation: fc.constantFrom(...MUTATIONS),
      noise: fc.record({
        hostile: hostileString,
        anything: fc.oneof(fc.jsonValue(), fc.constantFrom(null, [], '', 0, true)),
        key: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }),
        hugeLength: fc.constantFrom(256, 1_001, 5_000, 20_001, 100_001, 1_100_000),
        cut: fc.nat({ max: 1000 }),
      }),
    })
    .map((g): Plan => {
      const common = { op, auth: g.auth, pick: g.pick, asOwner: g.asOwner };
      if (g.mode === 'known') {
        return { ...common, mode: 'known', params: {}, query: g.query, body: g.goodBody };
      }
      if (g.mode === 'schema') {
        return { ...common, mode: 'schema', params: g.params, query: g.query, body: g.schemaBody };
      }
      // Malformed requests usually aim at real rows, so validation is what stops them.
      const base = {
        query: g.query,
        body: g.goodBody.kind === 'known' ? g.schemaBody : g.goodBody,
      };
      const { query, body } = mutate(op, g.mutation, base, g.noise);
      const hostile = g.mutation === 'hostile-params';
      return {
        ...common,
        mode: hostile ? 'schema' : 'known',
        params: hostile ? g.hostileParams : {},
        query,
        body,
        mutation: g.mutation,
      };
    });
}

// ---------------------------------------------------------------------------------------------
// Execution.

let expiredTokens: Tokens;
let unknownUserToken: string;

/** The path parameters of a known-mode plan, and whose token owns the target. */
function knownTarget(plan: Plan): { params: Record<string, string>; owner?: string } {
  const needs = plan.op.params.filter((p) => p.in === 'path').map((p) => p.name);
  if (needs.includes('id')) {
    const c = pick(pool.comments, plan.pick);
    return c ? { params: { slug: c.slug, id: String(c.id) }, owner: c.author } : { params: {} };
  }
  if (needs.includes('slug')) {
    const a = pick(pool.articles, plan.pick);
    return a ? { params: { slug: a.slug }, owner: a.author } : { params: {} };
  }
  if (needs.includes('exportId')) {
    const e = pick(pool.exports, plan.pick);
    return e ? { params: { exportId: e.id }, owner: e.owner } : { params: {} };
  }
  if (needs.includes('username')) {
    // The admin is never the target, so an admin request cannot suspend or demote itself.
    const usernames = [...pool.usernames].filter((u) => u !== pool.admin?.username);
    return { params: { username: pick(usernames, plan.pick) ?? 'nobody' } };
  }
  return { params: {} };
}

function authHeader(plan: Plan, ownerToken: string | undefined): Promise<string | undefined> {
  const auth = plan.auth;
  switch (auth.kind) {
    case 'none':
      return Promise.resolve(undefined);
    case 'header':
      return Promise.resolve(auth.value);
    case 'deleted-user':
      return Promise.resolve(`Token ${unknownUserToken}`);
    case 'expired':
      return expiredTokens.sign(pick(pool.users, auth.user)!.id).then((t) => `Token ${t}`);
    case 'valid':
      return Promise.resolve(`Token ${ownerToken ?? pick(pool.users, auth.user)!.token}`);
  }
}

interface Outcome {
  plan: Plan;
  /** Path parameters as sent (known-mode plans resolve them from the pools). */
  params: Record<string, string>;
  request: string;
  res: ApiResponse;
  /** The pool user whose token was sent, if a valid one was. */
  actor?: PoolUser;
  sentPassword?: string;
}

async function execute(plan: Plan): Promise<Outcome> {
  const { op } = plan;
  let params = plan.params;
  let ownerToken: string | undefined;
  if (plan.mode === 'known') {
    const target = knownTarget(plan);
    params = target.params;
    const owner = op.path.startsWith('/admin/')
      ? pool.admin
      : target.owner
        ? userNamed(target.owner)
        : undefined;
    if (owner && plan.asOwner && plan.auth.kind === 'valid') ownerToken = owner.token;
  }
  const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) =>
    // Lone surrogates cannot be percent-encoded; a browser would send U+FFFD in their place.
    encodeURIComponent((params[name] ?? 'missing').toWellFormed()),
  );
  const query = new URLSearchParams(plan.query).toString();
  const url = query ? `${path}?${query}` : path;

  const headers: Record<string, string> = {};
  const authorization = await authHeader(plan, ownerToken);
  if (authorization !== undefined) headers.Authorization = authorization;
  const options: RequestOptions = { headers };
  let sentPassword: string | undefined;
  switch (plan.body.kind) {
    case 'json':
      options.body = plan.body.value;
      sentPassword = (plan.body.value as any)?.user?.password;
      break;
    case 'raw':
      options.raw = plan.body.text;
      headers['Content-Type'] = plan.body.contentType;
      break;
    case 'known': {
      const known = pick(pool.users, plan.pick)!;
      const user =
        credentialsKind(op) === 'register'
          ? uniqueUser('gen')
          : { email: known.email, password: known.password };
      options.body = { user };
      sentPassword = user.password;
      break;
    }
  }
  const actor =
    plan.auth.kind === 'valid'
      ? [...pool.users, pool.admin!].find((u) => u.token === authorization?.slice('Token '.length))
      : undefined;
  const res = await api.request(op.method, url, options);
  const request = `${op.method.toUpperCase()} ${url}`;
  const outcome = { plan, params, request, res, actor, sentPassword };
  harvest(outcome);
  if (actor && res.status === 401) await refreshToken(actor);
  return outcome;
}

let refreshedTokens = 0;

/**
 * A pool token stops working when its session is ended or its password changed (both are
 * generated operations); log in again so later requests keep carrying a valid token.
 */
async function refreshToken(user: PoolUser): Promise<void> {
  const res = await server.api.post('/users/login', {
    body: { user: { email: user.email, password: user.password } },
  });
  if (res.status === 200) {
    user.token = res.body.user.token;
    refreshedTokens += 1;
  }
}

/** Learns new slugs, usernames, comment ids and credentials from a response. */
function harvest({ plan, params, res, actor, sentPassword }: Outcome): void {
  if (res.status >= 300) return;
  const id = plan.op.operationId;
  // Keep the pools true to the database, so known-mode requests aim at rows that exist.
  if (id === 'DeleteArticle') {
    pool.articles = pool.articles.filter((a) => a.slug !== params.slug);
    pool.comments = pool.comments.filter((c) => c.slug !== params.slug);
  }
  if (id === 'UpdateArticle' && res.body.article.slug !== params.slug) {
    pool.articles = pool.articles.filter((a) => a.slug !== params.slug);
    for (const c of pool.comments) if (c.slug === params.slug) c.slug = res.body.article.slug;
  }
  if (id === 'DeleteArticleComment') {
    pool.comments = pool.comments.filter((c) => String(c.id) !== params.id);
  }
  if (!res.body || typeof res.body !== 'object') return;
  const body = res.body as Record<string, any>;
  for (const a of [body.article, ...(body.articles ?? [])].filter(Boolean)) {
    if (!pool.articles.some((x) => x.slug === a.slug)) {
      pool.articles.push({ slug: a.slug, author: a.author.username });
    }
    pool.usernames.add(a.author.username);
    for (const t of a.tagList) pool.tags.add(t);
  }
  for (const c of [body.comment, ...(body.comments ?? [])].filter(Boolean)) {
    if (params.slug && !pool.comments.some((x) => x.id === c.id)) {
      pool.comments.push({ slug: params.slug, id: c.id, author: c.author.username });
    }
  }
  for (const e of [body.export, ...(body.exports ?? [])].filter(Boolean)) {
    if (actor && !pool.exports.some((x) => x.id === e.id)) {
      pool.exports.push({ id: e.id, owner: actor.username });
    }
  }
  if (body.profile) pool.usernames.add(body.profile.username);
  if (body.user) {
    pool.usernames.add(body.user.username);
    if (credentialsKind(plan.op) === 'register' && sentPassword) {
      pool.users.push({ ...body.user, password: sentPassword, id: subjectOf(body.user.token) });
    }
    if (id === 'UpdateCurrentUser' && actor) {
      // Keep the pool's credentials (and whose rows are whose) in step with what the user changed.
      for (const row of [...pool.articles, ...pool.comments]) {
        if (row.author === actor.username) row.author = body.user.username;
      }
      for (const row of pool.exports) {
        if (row.owner === actor.username) row.owner = body.user.username;
      }
      actor.username = body.user.username;
      actor.email = body.user.email;
      if (body.user.token) actor.token = body.user.token;
      if (sentPassword) actor.password = sentPassword;
    }
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * One well-formed request per operation, in document order, each on state seeded for it alone: a
 * user of its own (the pool's admin for /admin operations), its own article or comment to act on,
 * its own user to follow or administer. Whatever the seed, each should succeed, so every
 * operation's success path is reached and its response checked against the published schemas.
 */
async function seededRequests(): Promise<Outcome[]> {
  const out: Outcome[] = [];
  const deadLetters: DeadLetter[] = [];
  try {
    return await seedEach(out, deadLetters);
  } finally {
    await Promise.all(deadLetters.map((d) => d.remove()));
  }
}

async function seedEach(out: Outcome[], deadLetters: DeadLetter[]): Promise<Outcome[]> {
  for (const op of ops) {
    const actor: Account = op.path.startsWith('/admin/')
      ? pool.admin!
      : await server.register('seeded');
    const needs = op.params.filter((p) => p.in === 'path').map((p) => p.name);
    const params: Record<string, string> = {};
    if (needs.includes('slug')) {
      params.slug = (await server.api.createArticle(actor.token, { title: 'Seeded' })).slug;
    }
    if (op.path.startsWith('/notifications/') && needs.includes('id')) {
      // A notification of the actor's own, as the worker's fan-out writes it (no worker here).
      const [row] = await server.sql<{ id: string }>(
        `insert into notifications (user_id, article_id, created_at)
         select ?, a.id, now() from articles a where a.slug = ? returning id::text as id`,
        [subjectOf(actor.token), pool.articles[0]!.slug],
      );
      params.id = row!.id;
    } else if (needs.includes('queue')) {
      // The admin's re-queue operation: a dead letter of its own (removed after the run).
      const dead = await createDeadLetter(server.config);
      deadLetters.push(dead);
      params.queue = dead.queueName;
      params.id = dead.jobId;
    } else if (needs.includes('id')) {
      const comment = await server.api.post(`/articles/${params.slug}/comments`, {
        token: actor.token,
        body: { comment: { body: 'Seeded comment' } },
      });
      params.id = String(comment.body.comment.id);
    }
    if (needs.includes('username')) params.username = (await server.register('seedee')).username;
    if (needs.includes('exportId')) {
      params.exportId = (
        await server.api.post('/user/exports', { token: actor.token })
      ).body.export.id;
    }
    // Avatar uploads are multipart: a real image (the schemas describe no JSON body for them).
    const avatar = async () => form([{ bytes: await sampleImage('png', 40, 30) }]);
    if (needs.includes('uploadId')) {
      params.uploadId = (
        await server.api.put('/user/avatar', { token: actor.token, raw: await avatar() })
      ).body.avatarUpload.id;
    }
    const [body] = fc.sample(goodBody(op, true), { seed: SEED, numRuns: 1 });
    const options: RequestOptions = {};
    if (op.method === 'put' && op.path === '/user/avatar') options.raw = await avatar();
    if (op.auth !== 'none') options.token = actor.token;
    if (body?.kind === 'json') options.body = body.value;
    if (body?.kind === 'known') {
      options.body = {
        user: credentialsKind(op) === 'register' ? uniqueUser('seeded') : actor,
      };
    }
    const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) =>
      encodeURIComponent(params[name]!),
    );
    const res = await api.request(op.method, path, options);
    const plan: Plan = {
      op,
      mode: 'known',
      auth: op.auth === 'none' ? { kind: 'none' } : { kind: 'valid', user: 0 },
      pick: 0,
      asOwner: true,
      params,
      query: [],
      body: body ?? { kind: 'none' },
    };
    const outcome = { plan, params, request: `${op.method.toUpperCase()} ${path}`, res };
    harvest(outcome);
    out.push(outcome);
  }
  return out;
}

/** The seeded requests' outcomes, then the generated ones. */
let seeded: Outcome[] = [];
const outcomes: Outcome[] = [];
/** fast-check's report when the property failed (it names the seed and the request). */
let failure: string | undefined;

beforeAll(async () => {
  await seedPools();
  seeded = await seededRequests();
  const started = Date.now();
  const requests = fc
    .array(fc.oneof(...ops.map(planArbitrary)), {
      minLength: REQUESTS_PER_RUN,
      maxLength: REQUESTS_PER_RUN,
    })
    // fast-check would print all the plans; the error names the one that failed.
    .map((plans) =>
      Object.assign(plans, { [fc.toStringMethod]: () => `[${plans.length} requests]` }),
    );
  const verdict = await fc.check(
    fc.asyncProperty(requests, async (plans) => {
      const batch = await inFlight(plans, IN_FLIGHT, execute);
      outcomes.push(...batch);
      const failed = batch.find((o) => o.res.status >= 500);
      if (failed) {
        throw new Error(
          `${failed.request} (${failed.plan.mode}${failed.plan.mutation ? `/${failed.plan.mutation}` : ''}, ` +
            `auth ${failed.plan.auth.kind}) answered ${failed.res.status} ` +
            `${JSON.stringify(failed.res.body)}; body sent: ${JSON.stringify(failed.plan.body).slice(0, 300)}`,
        );
      }
    }),
    // The server's state moves on between runs, so shrinking could not replay a failure
    // faithfully; the seed regenerates the same request sequence instead.
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
  failure = verdict.failed ? fc.defaultReportMessage(verdict) : undefined;

  const histogram = new Map<string, number>();
  for (const o of outcomes) {
    const key = `${o.plan.op.operationId} ${o.res.status}`;
    histogram.set(key, (histogram.get(key) ?? 0) + 1);
  }
  const byStatus = new Map<number, number>();
  for (const o of outcomes) byStatus.set(o.res.status, (byStatus.get(o.res.status) ?? 0) + 1);
  const reached = new Set(
    outcomes.filter((o) => o.res.status < 300).map((o) => o.plan.op.operationId),
  );
  report(
    `seed ${SEED}: ${outcomes.length} generated requests in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
      `(${refreshedTokens} pool tokens refreshed after a 401); ` +
      `statuses ${JSON.stringify(Object.fromEntries([...byStatus].sort((a, b) => a[0] - b[0])))}; ` +
      `${reached.size}/${ops.length} operations reached a 2xx from generated requests alone\n` +
      [...histogram]
        .sort()
        .map(([k, n]) => `  ${k}: ${n}`)
        .join('\n'),
  );
}, TRAFFIC_TIMEOUT_MS);
afterAll(async () => {
  await server?.close();
  await storage?.remove();
});

describe('generated requests (fast-check)', () => {
  it(`when ${RUNS * REQUESTS_PER_RUN} requests are generated from the schemas, then no response is a 5xx`, () => {
    expect(failure).toBeUndefined();
    expect(outcomes).toHaveLength(RUNS * REQUESTS_PER_RUN);
    expect([...seeded, ...outcomes].filter((o) => o.res.status >= 500)).toEqual([]);
  });

  it('when it is over, then the server still answers /health/live and logged no errors', async () => {
    const res = await fetch(`${server.baseUrl}/health/live`);
    expect(res.status).toBe(200);
    expect(server.logs.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
  });

  it('at least half the requests carried a valid token', () => {
    const valid = outcomes.filter((o) => o.plan.auth.kind === 'valid');
    // Some are refused anyway (a generated "log out everywhere" or suspension revoked the
    // token); the pool logs in again, and the share that still got through is reported.
    const accepted = valid.filter((o) => o.res.status !== 401).length;
    report(
      `valid tokens on ${valid.length}/${outcomes.length} requests; ${accepted} accepted, ` +
        `${valid.length - accepted} refused as revoked`,
    );
    expect(valid.length / outcomes.length).toBeGreaterThanOrEqual(0.5);
  });

  it('every operation answered a well-formed request on state seeded for it with a 2xx', () => {
    expect(seeded.map((o) => o.plan.op.operationId)).toEqual(ops.map((op) => op.operationId));
    expect(
      seeded
        .filter((o) => o.res.status >= 300)
        .map((o) => `${o.request} answered ${o.res.status} ${JSON.stringify(o.res.body)}`),
    ).toEqual([]);
  });

  it('every response had a documented status and matched the published schemas', () => {
    expect([...api.problems.values()]).toEqual([]);
  });
});

describe('database invariants after the generated traffic', () => {
  const rows = (sql: string, params: unknown[] = []) => server.sql(sql, params);

  it('every favorites_count equals the number of favorites rows', async () => {
    expect(
      await rows(`
        select a.slug, a.favorites_count, count(f.user_id)::int as favorites
        from articles a left join favorites f on f.article_id = a.id
        group by a.id having a.favorites_count <> count(f.user_id)`),
    ).toEqual([]);
    // The traffic must have favorited something, or the check above proves nothing.
    expect((await rows('select count(*)::int as n from favorites'))[0]?.n).toBeGreaterThan(0);
  });

  it.each([
    [
      'articles without an author',
      'articles x left join users u on u.id = x.author_id where u.id is null',
    ],
    [
      'comments without an article',
      'comments x left join articles a on a.id = x.article_id where a.id is null',
    ],
    [
      'comments without an author',
      'comments x left join users u on u.id = x.author_id where u.id is null',
    ],
    [
      'favorites without an article',
      'favorites x left join articles a on a.id = x.article_id where a.id is null',
    ],
    [
      'favorites without a user',
      'favorites x left join users u on u.id = x.user_id where u.id is null',
    ],
    [
      'article_tags without an article',
      'article_tags x left join articles a on a.id = x.article_id where a.id is null',
    ],
    [
      'article_tags without a tag',
      'article_tags x left join tags t on t.id = x.tag_id where t.id is null',
    ],
    [
      'follows without a follower',
      'follows x left join users u on u.id = x.follower_id where u.id is null',
    ],
    [
      'follows without a followee',
      'follows x left join users u on u.id = x.followee_id where u.id is null',
    ],
    ['self-follows', 'follows x where x.follower_id = x.followee_id'],
    [
      'articles with a blank slug, title, description or body',
      "articles x where x.slug = '' or btrim(x.title) = '' or btrim(x.description) = '' or btrim(x.body) = ''",
    ],
    ['comments with a blank body', "comments x where btrim(x.body) = ''"],
    ['users without an argon2 password hash', "users x where x.password_hash not like '$argon2%'"],
    [
      'users with a blank username or email',
      "users x where btrim(x.username) = '' or x.email = ''",
    ],
    ['tags with a blank name', "tags x where btrim(x.name) = ''"],
    [
      'rows updated before they were created',
      '(select created_at, updated_at from articles union all select created_at, updated_at from comments union all select created_at, updated_at from users) x where x.updated_at < x.created_at',
    ],
  ])('there are no %s', async (_what, from) => {
    expect(await rows(`select count(*)::int as n from ${from}`)).toEqual([{ n: 0 }]);
  });

  it('slugs, usernames and emails are unique', async () => {
    for (const [table, column] of [
      ['articles', 'slug'],
      ['users', 'username'],
      ['users', 'email'],
    ]) {
      expect(
        await rows(`select ${column} from ${table} group by ${column} having count(*) > 1`),
      ).toEqual([]);
    }
  });

  it('the API’s articlesCount agrees with the published rows in the database', async () => {
    const n = (await rows("select count(*)::int as n from articles where status = 'published'"))[0]
      ?.n;
    expect(n).toBeGreaterThan(0);
    expect((await server.api.get('/articles?limit=1')).body.articlesCount).toBe(n);
  });
});
