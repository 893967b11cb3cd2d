import bourne from '@hapi/bourne';
import parse from 'co-body';
import type { Middleware } from 'koa';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../errors.js';
import type { AppState } from './state.js';

declare module 'koa' {
  interface Request {
    /** The parsed JSON body (set by jsonBody); undefined when the request carried none. */
    body?: unknown;
  }
}

export interface JsonBodyOptions {
  /** Largest body, counted after any Content-Encoding is undone (413 beyond). */
  limitBytes: number;
  /** Deepest nesting of arrays and objects (400 beyond). */
  maxDepth: number;
  /** Most values: array elements plus object members, over the whole body (413 beyond). */
  maxElements: number;
}

const PARSED_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });
const [QUOTE, BACKSLASH, COMMA] = [0x22, 0x5c, 0x2c];
const [OPEN_ARRAY, CLOSE_ARRAY, OPEN_OBJECT, CLOSE_OBJECT] = [0x5b, 0x5d, 0x7b, 0x7d];

/**
 * Refuses a JSON body whose nesting or size in values exceeds the limits, in one pass over its
 * bytes with constant memory, before anything (not even a string) is built from it. JSON.parse
 * itself copes with deep input, but every later walk (validation, the NUL check, error reporting)
 * would pay for each level and each element; past the limits no real payload exists. UTF-8 keeps
 * every structural character a single byte that never occurs inside a multi-byte sequence, so
 * bytes can be scanned as they are. The scan does not validate: JSON.parse still decides.
 */
export function checkJsonShape(
  bytes: Uint8Array,
  limits: Omit<JsonBodyOptions, 'limitBytes'>,
): void {
  let depth = 0;
  // Commas separate values; each container adds its first one.
  let values = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i += 1) {
    const c = bytes[i];
    if (inString) {
      if (c === BACKSLASH) i += 1;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      depth += 1;
      values += 1;
      if (depth > limits.maxDepth) {
        throw new BadRequestError({
          body: [`nests arrays and objects deeper than ${limits.maxDepth} levels`],
        });
      }
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth -= 1;
    } else if (c === COMMA) {
      values += 1;
    }
    if (values > limits.maxElements) {
      throw new PayloadTooLargeError(
        `holds more than ${limits.maxElements} values (array elements and fields)`,
      );
    }
  }
}

/**
 * Reads and parses `application/json` (and `+json`) bodies of POST/PUT/PATCH into
 * `ctx.request.body`. Refuses, before parsing: a charset other than UTF-8 (415), a body over the
 * size limit (413), nesting or value counts over the limits. Only objects and arrays are accepted
 * at the top; `__proto__` keys are refused (prototype poisoning). Other media types are left
 * unread: routes answer them 415.
 */
export function jsonBody(options: JsonBodyOptions): Middleware<AppState> {
  return async (ctx, next) => {
    if (!PARSED_METHODS.has(ctx.method) || !ctx.request.is('application/json', '+json')) {
      return next();
    }
    const charset = ctx.request.charset.toLowerCase();
    if (charset && charset !== 'utf-8' && charset !== 'utf8') {
      throw new UnsupportedMediaTypeError(`must be UTF-8 encoded (got charset=${charset})`);
    }
    // co-body: Content-Encoding undone, Content-Length checked, 413 past the limit. Bytes, not
    // text (`encoding: false` reaches raw-body, which then returns the Buffer): a lenient decode
    // would turn invalid UTF-8 into U+FFFD and store it.
    const read = { limit: options.limitBytes, encoding: false } as unknown as parse.Options;
    const raw = (await parse.text(ctx, read)) as unknown as Buffer;
    checkJsonShape(raw, options);
    let text: string;
    try {
      text = STRICT_UTF8.decode(raw);
    } catch {
      throw new BadRequestError({ body: ['is not valid UTF-8'] });
    }
    ctx.request.body = parseJson(text);
    return next();
  };
}

function parseJson(text: string): unknown {
  const start = text.trimStart()[0];
  if (start === undefined) return {};
  if (start !== '{' && start !== '[') {
    throw new BadRequestError({ body: ['must be a JSON object or array'] });
  }
  try {
    return bourne.parse(text, { protoAction: 'error' });
  } catch {
    throw new BadRequestError({ body: ['is not valid JSON'] });
  }
}
