import bourne from '@hapi/bourne';
import parse from 'co-body';
import type { Middleware } from 'koa';
import { AppError, BadRequestError } from '../errors.js';
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
const [QUOTE, BACKSLASH, COMMA] = [0x22, 0x5c, 0x2c];
const [OPEN_ARRAY, CLOSE_ARRAY, OPEN_OBJECT, CLOSE_OBJECT] = [0x5b, 0x5d, 0x7b, 0x7d];

/**
 * Refuses a JSON text whose nesting or size in values exceeds the limits, in one pass over the
 * characters with constant memory, before anything is built from it. JSON.parse itself copes with
 * deep input, but every later walk (validation, the NUL check, error reporting) would pay for each
 * level and each element; past the limits no real payload exists. The scan does not validate:
 * JSON.parse still decides whether the text is JSON.
 */
export function checkJsonShape(text: string, limits: Omit<JsonBodyOptions, 'limitBytes'>): void {
  let depth = 0;
  // Commas separate values; each container adds its first one.
  let values = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
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
      throw new AppError(413, {
        body: [`holds more than ${limits.maxElements} values (array elements and fields)`],
      });
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
      throw new AppError(415, { body: [`must be UTF-8 encoded (got charset=${charset})`] });
    }
    // co-body: Content-Encoding undone, Content-Length checked, 413 past the limit.
    const text = await parse.text(ctx, { limit: options.limitBytes, encoding: 'utf8' });
    checkJsonShape(text, options);
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
