import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { ApiClient, type ApiResponse, type RequestOptions } from './client.js';
import { REALWORLD_DIR } from './paths.js';

/** The parts of an OpenAPI 3.1 document the contract tests read. */
export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: Record<string, Record<string, unknown>>;
}

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: JsonSchema;
}

export interface OpenApiOperation {
  operationId: string;
  security?: Record<string, string[]>[];
  parameters?: (OpenApiParameter | { $ref: string })[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> } | { $ref: string };
  responses: Record<string, unknown>;
}

export type JsonSchema = Record<string, any>;

/** One operation of a document, with what the tests need to call it. */
export interface Operation {
  operationId: string;
  method: string;
  /** Path template relative to the `/api` server, e.g. `/articles/{slug}`. */
  path: string;
  /** `none` when the operation declares no security, `optional` when `{}` is one alternative. */
  auth: 'none' | 'optional' | 'required';
  params: OpenApiParameter[];
  /** JSON Schema of the application/json request body, if the operation takes one. */
  body?: JsonSchema;
  /** Documented status codes, as numbers. */
  statuses: number[];
}

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);

/** The RealWorld contract, from `shared/realworld/openapi.yml` beside the repository. */
export function loadRealWorldDocument(): OpenApiDocument {
  return parseYaml(readFileSync(path.join(REALWORLD_DIR, 'openapi.yml'), 'utf8'));
}

/** The document a running server publishes at `/api/openapi.json`. */
export async function fetchPublishedDocument(baseUrl: string): Promise<OpenApiDocument> {
  const res = await fetch(`${baseUrl}/api/openapi.json`);
  if (res.status !== 200) throw new Error(`GET /api/openapi.json answered ${res.status}`);
  return (await res.json()) as OpenApiDocument;
}

/** Follows a local `#/…` reference inside `doc` (repeatedly, for references to references). */
export function deref<T>(doc: OpenApiDocument, value: T | { $ref: string }): T {
  let current: unknown = value;
  while (current && typeof current === 'object' && '$ref' in current) {
    const ref = (current as { $ref: string }).$ref;
    current = pointerParts(ref).reduce<any>((node, key) => node?.[key], doc);
    if (current === undefined) throw new Error(`unresolvable $ref ${ref}`);
  }
  return current as T;
}

function pointerParts(ref: string): string[] {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported, got ${ref}`);
  return ref
    .slice(2)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function escapePointer(part: string): string {
  return part.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Every operation of a document, in document order. */
export function operationsOf(doc: OpenApiDocument): Operation[] {
  const out: Operation[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!HTTP_METHODS.has(method)) continue;
      const security = op.security ?? [];
      const auth =
        security.length === 0
          ? 'none'
          : security.some((s) => Object.keys(s).length === 0)
            ? 'optional'
            : 'required';
      const requestBody = op.requestBody ? deref(doc, op.requestBody) : undefined;
      out.push({
        operationId: op.operationId,
        method,
        path: template,
        auth,
        params: (op.parameters ?? []).map((p) => deref<OpenApiParameter>(doc, p)),
        body: requestBody?.content?.['application/json']?.schema,
        statuses: Object.keys(op.responses)
          .map(Number)
          .sort((a, b) => a - b),
      });
    }
  }
  return out;
}

/** `"CreateUser 201"`: the unit the coverage test counts. */
export const pairKey = (operationId: string, status: number) => `${operationId} ${status}`;

/** Every (operationId, status) pair a document promises. */
export function documentedPairs(doc: OpenApiDocument): string[] {
  return operationsOf(doc).flatMap((op) => op.statuses.map((s) => pairKey(op.operationId, s)));
}

/** `method path status` triples of `theirs` that `ours` lacks (paths compared as templates). */
export function missingFrom(ours: OpenApiDocument, theirs: OpenApiDocument): string[] {
  const have = new Set(operationsOf(ours).flatMap((o) => o.statuses.map((s) => triple(o, s))));
  return operationsOf(theirs)
    .flatMap((o) => o.statuses.map((s) => triple(o, s)))
    .filter((t) => !have.has(t));
}

const triple = (o: Operation, status: number) => `${o.method.toUpperCase()} ${o.path} ${status}`;

/** Maps a concrete request (method + path relative to `/api`) to the operation that serves it. */
export class OperationMatcher {
  private readonly routes: { op: Operation; pattern: RegExp; params: number }[];

  constructor(doc: OpenApiDocument) {
    this.routes = operationsOf(doc)
      .map((op) => ({
        op,
        pattern: new RegExp(`^${op.path.replace(/\{\w+\}/g, '[^/]+')}$`),
        params: (op.path.match(/\{/g) ?? []).length,
      }))
      // Literal segments win over parameters, as in the router (`/articles/feed` before `{slug}`).
      .sort((a, b) => a.params - b.params);
  }

  match(method: string, pathAndQuery: string): Operation | undefined {
    const pathname = pathAndQuery.split('?')[0]!;
    const m = method.toLowerCase();
    return this.routes.find((r) => r.op.method === m && r.pattern.test(pathname))?.op;
  }
}

/**
 * Known, deliberate differences from the RealWorld document, applied to its schemas before
 * validating. RealWorld's GenericErrorModel requires `errors.body`, but Plinth (like most
 * implementations and the RealWorld Postman suite's expectations) keys errors by the offending
 * field, e.g. `{"errors": {"email": ["has already been taken"]}}`; the messages are still arrays
 * of strings, which is what stays checked.
 */
function relaxRealWorld(doc: OpenApiDocument): OpenApiDocument {
  const copy = structuredClone(doc);
  const model = copy.components?.schemas?.GenericErrorModel as JsonSchema | undefined;
  if (model?.properties?.errors) {
    delete model.properties.errors.required;
    model.properties.errors.additionalProperties = { type: 'array', items: { type: 'string' } };
  }
  return copy;
}

export interface ContractProblem {
  /** What is wrong, without request specifics: `Login 401: status not documented …`. */
  kind: string;
  /** The kind with the request and the response body, for the failure message. */
  detail: string;
}

export interface ContractCheck {
  operation?: Operation;
  /** Contract violations of this one response; empty when it conforms. */
  problems: ContractProblem[];
}

/**
 * Checks responses against Plinth's published document and, where RealWorld defines a JSON
 * schema for the same path, method and status, against RealWorld's document as well.
 */
export class Contract {
  readonly matcher: OperationMatcher;
  /** How many response bodies were validated against each document's schema. */
  readonly validated = { ours: 0, realworld: 0 };
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  private readonly validators = new Map<string, ValidateFunction | null | undefined>();
  private readonly docs: Record<'ours' | 'realworld', OpenApiDocument>;

  constructor(ours: OpenApiDocument, realworld: OpenApiDocument) {
    this.docs = { ours, realworld: relaxRealWorld(realworld) };
    // ajv-formats is CommonJS; under ESM its callable is the default export's default.
    const addFormats = ((addFormatsModule as any).default ?? addFormatsModule) as (
      a: Ajv2020,
    ) => void;
    addFormats(this.ajv);
    // RealWorld marks passwords `format: password`, a UI hint rather than a constraint.
    this.ajv.addFormat('password', true);
    this.ajv.addSchema(this.docs.ours as object, 'ours');
    this.ajv.addSchema(this.docs.realworld as object, 'realworld');
    this.matcher = new OperationMatcher(ours);
  }

  /**
   * The validator of one documented response body, `null` when the response has no JSON body,
   * `undefined` when the document does not know the path, method or status.
   */
  private validator(
    which: 'ours' | 'realworld',
    op: Operation,
    status: number,
  ): ValidateFunction | null | undefined {
    const key = `${which} ${op.method} ${op.path} ${status}`;
    if (this.validators.has(key)) return this.validators.get(key);
    const doc = this.docs[which];
    let result: ValidateFunction | null | undefined;
    if (doc.paths[op.path]?.[op.method]?.responses?.[String(status)] !== undefined) {
      // Point ajv at the schema inside the document, so its `#/components/…` refs resolve there.
      let pointer = `/paths/${escapePointer(op.path)}/${op.method}/responses/${status}`;
      let response: any = doc.paths[op.path]?.[op.method]?.responses?.[String(status)];
      while (response && typeof response === 'object' && '$ref' in response) {
        pointer = (response.$ref as string).slice(1);
        response = pointerParts(response.$ref).reduce<any>((node, k) => node?.[k], doc);
      }
      result = response?.content?.['application/json']?.schema
        ? this.ajv.compile({ $ref: `${which}#${pointer}/content/application~1json/schema` })
        : null;
    }
    this.validators.set(key, result);
    return result;
  }

  /** Checks one response of `method path` against both documents. */
  check(method: string, pathAndQuery: string, res: ApiResponse): ContractCheck {
    const request = `${method} ${pathAndQuery}`.slice(0, 200);
    const operation = this.matcher.match(method, pathAndQuery);
    if (!operation) return { problems: [] };
    const problems: ContractProblem[] = [];
    const describe = (what: string): ContractProblem => {
      const kind = `${operation.operationId} ${res.status}: ${what}`;
      const body = JSON.stringify(res.body)?.slice(0, 300);
      return { kind, detail: `${kind} — e.g. ${request} answered ${body}` };
    };
    const ours = this.validator('ours', operation, res.status);
    if (ours === undefined) {
      problems.push(describe('status not documented in our OpenAPI document'));
    } else if (ours === null) {
      if (res.body !== undefined) problems.push(describe('documented without a body'));
    } else {
      if (!/^application\/json\b/.test(res.headers.get('content-type') ?? '')) {
        problems.push(describe(`content-type ${res.headers.get('content-type')}`));
      }
      this.validated.ours += 1;
      if (!ours(res.body)) problems.push(describe(`ours: ${this.ajv.errorsText(ours.errors)}`));
    }
    const realworld = this.docs.realworld.paths[operation.path]?.[operation.method]
      ? this.validator('realworld', operation, res.status)
      : undefined;
    if (realworld) this.validated.realworld += 1;
    if (realworld && !realworld(res.body)) {
      problems.push(describe(`RealWorld: ${this.ajv.errorsText(realworld.errors)}`));
    }
    // RealWorld: "the articles in a list omit the body"; its schema cannot say so, so ask here.
    const articles = (res.body as { articles?: unknown })?.articles;
    if (
      Array.isArray(articles) &&
      articles.some((a) => a && typeof a === 'object' && 'body' in a)
    ) {
      problems.push(describe('a list item carries `body`'));
    }
    return { operation, problems };
  }
}

/**
 * An ApiClient that checks every response against the contract and records which
 * (operationId, status) pairs were exercised. Helpers such as register() are recorded too.
 */
export class RecordingClient extends ApiClient {
  /** `pairKey` → how many responses had it. */
  readonly exercised = new Map<string, number>();
  /** Contract violations seen: one example per kind of problem. */
  readonly problems = new Map<string, string>();

  constructor(
    baseUrl: string,
    readonly contract: Contract,
  ) {
    super(baseUrl);
  }

  override async request<T = any>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<ApiResponse<T>> {
    const res = await super.request<T>(method, path, options);
    const { operation, problems } = this.contract.check(method, path, res);
    if (operation) {
      const key = pairKey(operation.operationId, res.status);
      this.exercised.set(key, (this.exercised.get(key) ?? 0) + 1);
    }
    for (const p of problems) if (!this.problems.has(p.kind)) this.problems.set(p.kind, p.detail);
    return res;
  }
}
