import type { OpenAPIRegistry, RouteConfig } from '@asteasolutions/zod-to-openapi';
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { UnauthorizedError, UnsupportedMediaTypeError, ValidationError } from '../errors.js';
import { JsonText } from '../json-text.js';
import type { Services } from '../modules/services.js';
import type { User } from '../modules/users/user.entity.js';
import type { LimitClass } from '../rate-limits.js';
import type { AppContext, AppState } from './state.js';
import { fieldOf, toFieldErrors } from './validation.js';

/** `none`: token ignored; `optional`: a presented token must be valid; `required`: 401 without one. */
export type AuthMode = 'none' | 'optional' | 'required';

type AnyObject = z.ZodObject;

export interface RouteInput<
  P extends AnyObject,
  Q extends AnyObject,
  B extends z.ZodType,
  A extends AuthMode,
> {
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
  user: A extends 'required' ? User : User | undefined;
  /** The bearer token, when the user authenticated with one (not with a session cookie). */
  token: string | undefined;
  /** The feature services, built for this request's unit of work and actor. */
  services: Services;
  /** For what only HTTP has: cookies, headers. */
  ctx: AppContext;
}

/**
 * One operation: its OpenAPI description, input schemas and handler in one place, so the schemas
 * that validate a request are the ones the published document shows.
 */
export interface RouteDef<
  P extends AnyObject = AnyObject,
  Q extends AnyObject = AnyObject,
  B extends z.ZodType = z.ZodType,
  A extends AuthMode = AuthMode,
> {
  method: 'get' | 'post' | 'put' | 'delete';
  /** OpenAPI-style path relative to `/api`, e.g. `/articles/{slug}`. */
  path: `/${string}`;
  operationId: string;
  summary: string;
  tag: string;
  auth: A;
  params?: P;
  query?: Q;
  body?: B;
  /**
   * The body is `multipart/form-data` carrying one file (the handler reads it, see
   * http/multipart.ts), instead of JSON: documented as such, and listed as a body route.
   * @default none
   */
  upload?: UploadSpec;
  success: { status: 200 | 201 | 202 | 204; description: string; schema?: z.ZodType };
  /**
   * Refused with 503 during the maintenance write freeze.
   * @default true for non-GET routes that need a user; false otherwise
   */
  freezable?: boolean;
  /** Error statuses beyond the ones derived from auth and input (401, 422, 400/413/415). */
  errors?: (401 | 403 | 404)[];
  /**
   * The operation's rate-limit class on top of the per-IP budget every request spends
   * (service/src/rate-limits.ts): `auth` also spends the stricter per-IP auth budget; `login`
   * is `auth` plus failed logins counted per account, the account being `body.user.email`.
   * @default none
   */
  rateLimit?: LimitClass;
  handler: (input: RouteInput<P, Q, B, A>) => Promise<unknown>;
}

/** A file upload's form field, for the OpenAPI document. */
export interface UploadSpec {
  /** The form field carrying the file. */
  field: string;
  /** What the file may be and what happens to it. */
  description: string;
  /** Descriptions of the error statuses, where the JSON ones do not fit. */
  errors?: Partial<Record<number, string>>;
}

/** Typed constructor for a route (keeps inference of the schema generics). */
export function route<
  P extends AnyObject,
  Q extends AnyObject,
  B extends z.ZodType,
  A extends AuthMode,
>(def: RouteDef<P, Q, B, A>): RouteDef<P, Q, B, A> {
  return def;
}

export const ErrorSchema = z
  .object({
    errors: z.record(z.string(), z.array(z.string())),
    requestId: z.string().optional(),
  })
  .meta({ id: 'GenericErrorModel', description: 'Field name → messages; requestId for support.' });

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed JSON body, or one nested deeper than BODY_MAX_DEPTH',
  401: 'Missing, invalid or expired token',
  403: 'Authenticated but not allowed',
  404: 'Not found',
  413: 'Body larger than BODY_LIMIT_BYTES, or with more than BODY_MAX_ELEMENTS values',
  415: 'Body is not application/json in UTF-8',
  422: 'Validation failed: unknown or invalid parameters or body fields',
  503: 'Writes are paused (maintenance write freeze); Retry-After says when to retry',
};

/** Every status a route can answer with, as published in the OpenAPI document. */
export function documentedStatuses(def: RouteDef): number[] {
  const statuses = new Set<number>([def.success.status, 422, ...(def.errors ?? [])]);
  if (def.auth !== 'none') statuses.add(401);
  if (def.body || def.upload) [400, 413, 415].forEach((s) => statuses.add(s));
  if (def.freezable ?? (def.method !== 'get' && def.auth === 'required')) statuses.add(503);
  return [...statuses].sort();
}

export function registerOpenApi(registry: OpenAPIRegistry, def: RouteDef, basePath: string): void {
  const responses: RouteConfig['responses'] = {
    [def.success.status]: {
      description: def.success.description,
      ...(def.success.schema
        ? { content: { 'application/json': { schema: def.success.schema } } }
        : {}),
    },
  };
  for (const status of documentedStatuses(def)) {
    if (status === def.success.status) continue;
    responses[status] = {
      description: def.upload?.errors?.[status] ?? ERROR_DESCRIPTIONS[status] ?? 'Error',
      content: { 'application/json': { schema: ErrorSchema } },
    };
  }
  registry.registerPath({
    method: def.method,
    path: `${basePath}${def.path}`,
    operationId: def.operationId,
    summary: def.summary,
    tags: [def.tag],
    ...(def.auth === 'required' ? { security: [{ Token: [] }] } : {}),
    ...(def.auth === 'optional' ? { security: [{}, { Token: [] }] } : {}),
    request: {
      ...(def.params ? { params: def.params } : {}),
      ...(def.query ? { query: def.query } : {}),
      ...(def.body
        ? { body: { required: true, content: { 'application/json': { schema: def.body } } } }
        : {}),
      ...(def.upload ? { body: uploadBody(def.upload) } : {}),
    },
    responses,
  });
}

function uploadBody(upload: UploadSpec) {
  return {
    required: true,
    content: {
      'multipart/form-data': {
        schema: {
          type: 'object' as const,
          required: [upload.field],
          additionalProperties: false,
          properties: {
            [upload.field]: {
              type: 'string' as const,
              format: 'binary',
              description: upload.description,
            },
          },
        },
      },
    },
  };
}

/**
 * The field path of the first string holding a NUL character. PostgreSQL cannot store U+0000 in
 * text, so such input is refused for every parameter and body field in one place. Iterative, with
 * each frame pointing at its parent, so neither deep input nor wide input costs stack or copies.
 */
function nulPath(root: unknown): string[] | undefined {
  interface Frame {
    value: unknown;
    key: string;
    parent: Frame | undefined;
  }
  const stack: Frame[] = [{ value: root, key: '', parent: undefined }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const { value } = frame;
    if (typeof value === 'string') {
      if (!value.includes('\u0000')) continue;
      const path: string[] = [];
      for (let f: Frame | undefined = frame; f?.parent; f = f.parent) path.push(f.key);
      return path.reverse();
    }
    if (value && typeof value === 'object') {
      // Pushed in reverse so the first field is checked first, as the old recursion did.
      const entries = Array.isArray(value)
        ? value.map((v, i) => [String(i), v] as const)
        : Object.entries(value);
      for (let i = entries.length - 1; i >= 0; i -= 1) {
        stack.push({ value: entries[i]![1], key: entries[i]![0], parent: frame });
      }
    }
  }
  return undefined;
}

function parse<T extends z.ZodType>(schema: T, value: unknown, fallbackField: string): z.output<T> {
  const nul = nulPath(value);
  if (nul) {
    throw new ValidationError({
      [fieldOf(nul, fallbackField)]: ['must not contain NUL characters'],
    });
  }
  const result = schema.safeParse(value, { reportInput: true });
  if (!result.success) throw new ValidationError(toFieldErrors(result.error, fallbackField));
  return result.data;
}

const NO_PARAMS = z.strictObject({});

function hasBody(ctx: AppContext): boolean {
  return Boolean(ctx.request.length) || ctx.get('Transfer-Encoding') !== '';
}

/** Koa middleware that checks `auth`, validates input, runs the handler, responds. */
export function toMiddleware(
  def: RouteDef,
  services: (ctx: AppContext) => Services,
): Middleware<AppState> {
  return async (ctx) => {
    const c = ctx as AppContext;
    if (def.auth === 'required' && !c.state.user) throw new UnauthorizedError();
    if (def.body && hasBody(c) && !c.is('application/json', '+json')) {
      throw new UnsupportedMediaTypeError('must be application/json');
    }
    const input = {
      params: parse(def.params ?? NO_PARAMS, c.params ?? {}, 'path'),
      query: parse(def.query ?? NO_PARAMS, c.query, 'query'),
      body: def.body ? parse(def.body, c.request.body ?? {}, 'body') : undefined,
      user: def.auth === 'none' ? undefined : c.state.user,
      token: def.auth === 'none' ? undefined : c.state.token,
      services: services(c),
      ctx: c,
    };
    const result = await def.handler(input as never);
    c.status = def.success.status;
    if (def.success.status === 204) return;
    if (def.method === 'get' && def.success.status === 200) {
      httpCaching(c, result instanceof JsonText ? result : JsonText.of(result));
    } else {
      c.body = result;
    }
  };
}

function matchesAny(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/** The `Vary` a cacheable answer carries after CORS has added `Origin` (which it always does). */
const VARY_ORIGIN_AND_CREDENTIALS = 'Origin, Authorization, Cookie';

/**
 * Adds `Authorization` and `Cookie` to `Vary`: a constant in the usual case (CORS set `Vary:
 * Origin`), instead of `ctx.vary()` parsing and rebuilding the header twice per response. Those
 * per-response strings were among what V8's pretenuring moved to the old generation (see
 * v8-heap.ts): at 3,750 cached tag reads/s, 4.3 MB promoted per scavenge with them, 0.14 MB with
 * the constant. Any other `Vary` goes through `ctx.vary()`.
 */
function varyOnCredentials(c: AppContext): void {
  if (c.res.getHeader('Vary') === 'Origin') {
    c.set('Vary', VARY_ORIGIN_AND_CREDENTIALS);
    return;
  }
  c.vary('Authorization');
  c.vary('Cookie');
}

/**
 * A GET's 200 with HTTP caching (docs/read-path.md): a strong ETag of the body's bytes,
 * `If-None-Match` → 304, and Cache-Control that a CDN can honour — `public, no-cache` without
 * credentials, `private, no-cache` with them.
 */
function httpCaching(c: AppContext, json: JsonText): void {
  const credentialed =
    c.state.user !== undefined || c.get('Authorization') !== '' || c.get('Cookie') !== '';
  c.set('Cache-Control', credentialed ? 'private, no-cache' : 'public, no-cache');
  varyOnCredentials(c);
  if (json.cache) c.set('X-Cache', json.cache);
  const etag = `"${createHash('sha1').update(json.text).digest('base64url')}"`;
  c.etag = etag;
  c.type = 'application/json';
  // The origin decides, whatever `Cache-Control: no-cache` the request carries (fetch adds it to
  // every conditional request); If-None-Match compares weakly (RFC 9110, 13.1.2).
  const ifNoneMatch = c.get('If-None-Match');
  if (ifNoneMatch && matchesAny(ifNoneMatch, etag)) {
    c.status = 304;
    return;
  }
  c.body = json.text;
}

export interface MountOptions {
  /** Where the operations appear in the OpenAPI document, relative to the router's prefix. */
  basePath: string;
  /** Middleware that runs before each route's own (authentication, actor, limits). */
  before: (def: RouteDef) => Middleware<AppState>[];
  /** The feature services for a request. */
  services: (ctx: AppContext) => Services;
}

/** Mounts routes on a router: `{slug}` becomes `:slug`; order is kept (specific paths first). */
export function mountRoutes(
  router: Router<AppState>,
  registry: OpenAPIRegistry,
  defs: readonly RouteDef[],
  options: MountOptions,
): void {
  for (const def of defs) {
    if (def.rateLimit === 'login' && !def.body) {
      throw new Error(`${def.operationId}: a login-class route takes credentials in its body`);
    }
    const koaPath = def.path.replace(/\{(\w+)\}/g, ':$1');
    router[def.method](
      def.operationId,
      koaPath,
      ...options.before(def),
      toMiddleware(def, options.services),
    );
    registerOpenApi(registry, def, options.basePath);
  }
}

/**
 * The rate-limit class of the route a request is for, looked up in the router before it runs
 * (the per-IP limits spend it before the body is read).
 */
export function rateLimitClassOf(
  router: Router<AppState>,
  defs: readonly RouteDef[],
): (ctx: AppContext) => LimitClass | undefined {
  const classes = new Map(defs.flatMap((d) => (d.rateLimit ? [[d.operationId, d.rateLimit]] : [])));
  const methods = new Set(
    defs.filter((d) => d.rateLimit).map((d) => d.method.toUpperCase() as string),
  );
  return (ctx) => {
    if (!methods.has(ctx.method)) return undefined;
    for (const layer of router.match(ctx.path, ctx.method).pathAndMethod) {
      const limit = layer.name ? classes.get(layer.name) : undefined;
      if (limit) return limit;
    }
    return undefined;
  };
}

/**
 * The account a `login`-class request logs in to: `user.email` of its body as the route's own
 * schema normalises it, or undefined when the body does not validate.
 */
export function loginAccountOf(def: RouteDef): (ctx: AppContext) => string | undefined {
  return (ctx) => {
    const parsed = def.body?.safeParse(ctx.request.body);
    const email = (parsed?.data as { user?: { email?: unknown } } | undefined)?.user?.email;
    return parsed?.success && typeof email === 'string' ? email : undefined;
  };
}
