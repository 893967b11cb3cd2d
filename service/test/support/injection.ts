import type { Account } from './client.js';
import { deref, operationsOf, type JsonSchema, type OpenApiDocument } from './contract.js';
import { OBJECT_PAYLOADS, STRING_PAYLOADS } from './payloads.js';

/**
 * Injection requests for the security suite (security/suite.test.ts): every payload into every
 * path, query and body parameter of every operation, aimed where no write can succeed.
 */

/** An operation with the parameters an injection can reach. */
export interface InjectableOperation {
  method: string;
  path: string;
  operationId: string;
  params: { in: string; name: string }[];
  /** Leaf fields of the JSON body, as property paths; arrays are leaves too. */
  bodyFields: { path: string[]; array: boolean }[];
}

function leaves(
  doc: OpenApiDocument,
  schema: JsonSchema,
  prefix: string[],
): InjectableOperation['bodyFields'] {
  const s = deref<JsonSchema>(doc, schema);
  if (s.properties) {
    return Object.entries(s.properties as Record<string, JsonSchema>).flatMap(([k, v]) =>
      leaves(doc, v, [...prefix, k]),
    );
  }
  return [{ path: prefix, array: s.type === 'array' }];
}

/** Every operation of a published document, with upper-case methods and its body's leaf fields. */
export function injectableOperations(doc: OpenApiDocument): InjectableOperation[] {
  return operationsOf(doc).map((op) => ({
    method: op.method.toUpperCase(),
    path: op.path,
    operationId: op.operationId,
    params: op.params,
    bodyFields: op.body ? leaves(doc, op.body, []) : [],
  }));
}

/** Who sends an injection request: nobody, a viewer, or an admin. */
export type InjectionActor = 'anonymous' | 'viewer' | 'admin';

/**
 * Where each operation's injection requests are aimed. "No data change" stays meaningful because
 * every write is aimed where success is impossible whatever one parameter holds: the other
 * fields collide with an existing account (422), the actor is a viewer who may not write
 * articles or someone else's (403), the path names a draft the actor cannot see (404), the
 * password is wrong (401), or the payload replaces the only identifier of the target (404/422).
 * The pass then asserts that no write succeeded and that every key table is byte-identical.
 */
export interface Target {
  actor: InjectionActor;
  /** Valid path parameters; the injected one is replaced. */
  params?: Record<string, string>;
  /** A complete valid body; the injected field is replaced. */
  body?: unknown;
}

/** The rows the injection requests aim at (made by the suite before it sends them). */
export interface Fixtures {
  admin: Account;
  viewer: Account;
  victim: Account;
  published: string;
  draft: string;
  commentId: number;
  /** A data export of the victim's. */
  exportId: string;
}

/** Where each operation's requests are aimed (see Target). */
export function injectionTargets(f: Fixtures): Record<string, Target> {
  const wrongLogin = { user: { email: f.victim.email, password: 'not the password' } };
  const user = { username: f.victim.username };
  const article = {
    article: {
      title: 'Injected title',
      description: 'Injected description',
      body: 'Injected body',
      tagList: ['injected'],
      status: 'published',
    },
  };
  return {
    Login: { actor: 'anonymous', body: wrongLogin },
    CreateSession: { actor: 'anonymous', body: wrongLogin },
    CreateUser: {
      actor: 'anonymous',
      body: { user: { ...user, email: f.victim.email, password: 'long enough password' } },
    },
    UpdateCurrentUser: {
      actor: 'viewer',
      body: {
        user: {
          ...user,
          email: f.victim.email,
          password: 'long enough password',
          bio: 'bio',
          image: 'https://example.com/a.png',
        },
      },
    },
    GetProfileByUsername: { actor: 'viewer', params: user },
    FollowUserByUsername: { actor: 'viewer', params: user },
    UnfollowUserByUsername: { actor: 'viewer', params: user },
    GetArticlesFeed: { actor: 'viewer' },
    GetArticles: { actor: 'viewer' },
    CreateArticle: { actor: 'viewer', body: article },
    GetArticle: { actor: 'viewer', params: { slug: f.published } },
    UpdateArticle: { actor: 'viewer', params: { slug: f.published }, body: article },
    DeleteArticle: { actor: 'viewer', params: { slug: f.published } },
    CreateArticleFavorite: { actor: 'viewer', params: { slug: f.published } },
    DeleteArticleFavorite: { actor: 'viewer', params: { slug: f.published } },
    GetArticleComments: { actor: 'viewer', params: { slug: f.published } },
    CreateArticleComment: {
      actor: 'viewer',
      params: { slug: f.draft },
      body: { comment: { body: 'Injected comment' } },
    },
    DeleteArticleComment: {
      actor: 'viewer',
      params: { slug: f.published, id: String(f.commentId) },
    },
    GetTags: { actor: 'viewer' },
    // Someone else's export: a 404 whatever is injected.
    GetDataExport: { actor: 'viewer', params: { exportId: f.exportId } },
    // Nobody's upload: a 404 (or 422) whatever is injected.
    GetAvatarUpload: {
      actor: 'viewer',
      params: { uploadId: '00000000-0000-4000-8000-000000000000' },
    },
    AdminListUsers: { actor: 'admin' },
    AdminAuditLog: { actor: 'admin' },
    AdminChangeRole: { actor: 'admin', params: user, body: { user: { role: 'viewer' } } },
    AdminSuspendUser: { actor: 'admin', params: user },
    AdminReactivateUser: { actor: 'admin', params: user },
    AdminSetMaintenance: { actor: 'admin', body: { maintenance: { writeFreeze: false } } },
    AdminFailedJobs: { actor: 'admin' },
    // An unknown job: a 404 whatever is injected, and no queue changes.
    AdminRetryJob: { actor: 'admin', params: { queue: 'maintenance', id: '1' } },
    GetNotifications: { actor: 'viewer' },
    // No such notification of the viewer's: a 404 (or 422) whatever is injected.
    MarkNotificationRead: { actor: 'viewer', params: { id: '999999999' } },
    // Only a boolean is a digest setting: every payload is a 422.
    UpdateNotificationSettings: { actor: 'viewer', body: { settings: { digest: true } } },
  };
}

export interface InjectionRequest {
  method: string;
  url: string;
  body?: unknown;
  actor: InjectionActor;
  label: string;
  sleeps: boolean;
}

const encode = (value: string) => {
  try {
    return encodeURIComponent(value);
  } catch {
    return value; // a lone surrogate: the URL parser substitutes U+FFFD
  }
};

function inUrl(payload: { value: unknown; raw?: boolean }): string {
  if (typeof payload.value === 'string') return payload.raw ? payload.value : encode(payload.value);
  return encode(JSON.stringify(payload.value));
}

/** A query-string rendering of a non-string value: `q[$ne]=null`, `q=a&q=b`, `q=1e308`. */
function inQuery(name: string, value: unknown): string {
  if (Array.isArray(value)) return value.map((v) => `${name}=${encode(String(v))}`).join('&');
  if (value && typeof value === 'object') {
    return Object.entries(value)
      .map(([k, v]) => `${name}[${encode(k)}]=${encode(JSON.stringify(v))}`)
      .join('&');
  }
  return `${name}=${encode(String(value))}`;
}

function setAt(target: unknown, path: string[], value: unknown): unknown {
  const copy = structuredClone(target) as Record<string, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = path.at(-1)!;
  if (!(last in node)) throw new Error(`target body has no field ${path.join('.')}`);
  node[last] = value;
  return copy;
}

/** One request per payload per path, query and body parameter of `op`, aimed at `target`. */
export function injectionRequests(op: InjectableOperation, target: Target): InjectionRequest[] {
  const url = (params: Record<string, string>) =>
    op.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      if (params[name] === undefined) throw new Error(`${op.operationId}: no value for ${name}`);
      return params[name];
    });
  const baseParams = Object.fromEntries(
    Object.entries(target.params ?? {}).map(([k, v]) => [k, encodeURIComponent(v)]),
  );
  const payloads = [
    ...STRING_PAYLOADS.map((p) => ({ ...p, sleeps: p.sleeps ?? false })),
    ...OBJECT_PAYLOADS.map((p) => ({ ...p, raw: false, sleeps: false })),
  ];
  const out: InjectionRequest[] = [];
  const add = (location: string, name: string, sleeps: boolean, req: Partial<InjectionRequest>) =>
    out.push({
      method: op.method,
      url: url(baseParams),
      body: target.body,
      actor: target.actor,
      label: `${op.operationId} ${location} ← ${name}`,
      sleeps,
      ...req,
    });
  for (const param of op.params) {
    for (const p of payloads) {
      if (param.in === 'path') {
        add(`path ${param.name}`, p.name, p.sleeps, {
          url: url({ ...baseParams, [param.name]: inUrl(p) }),
        });
      } else {
        const query =
          typeof p.value === 'string' ? `${param.name}=${inUrl(p)}` : inQuery(param.name, p.value);
        add(`query ${param.name}`, p.name, p.sleeps, { url: `${url(baseParams)}?${query}` });
      }
    }
  }
  for (const field of op.bodyFields) {
    for (const p of payloads) {
      const value = field.array && typeof p.value === 'string' ? [p.value] : p.value;
      add(`body ${field.path.join('.')}`, p.name, p.sleeps, {
        body: setAt(target.body, field.path, value),
      });
    }
  }
  return out;
}
