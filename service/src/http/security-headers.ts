import type { HelmetOptions } from 'helmet';
import helmet from 'koa-helmet';
import type { Middleware } from 'koa';
import type { AppState } from './state.js';

/** Nothing an API response says may load, frame, or submit anything. */
const LOCKED_DOWN = {
  defaultSrc: ["'none'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
};

/**
 * The Swagger UI page loads only its own same-origin files (docs.routes.ts keeps its bootstrap out
 * of the page). swagger-ui 5 styles elements through the DOM, which `style-src` does not govern, so
 * no 'unsafe-inline' is needed; its stylesheet draws icons as `data:` SVGs.
 */
const DOCS = {
  ...LOCKED_DOWN,
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
};

/**
 * Bull Board (queue-board.ts): its own same-origin scripts, stylesheet and API calls. Its page sets
 * `<base href>` to the board's path, hence `base-uri 'self'`; its inline loading spinner stays
 * unstyled (no 'unsafe-inline'), and its web fonts from Google are not loaded.
 */
const BOARD = {
  ...DOCS,
  baseUri: ["'self'"],
  fontSrc: ["'self'"],
};

const common: HelmetOptions = {
  // Front ends on other origins read this API (RealWorld clients), so `same-site` would break them.
  crossOriginResourcePolicy: { policy: 'cross-origin' },
  referrerPolicy: { policy: 'no-referrer' },
  xFrameOptions: { action: 'deny' },
  // Sent only over TLS (below): a plain-HTTP response cannot set HSTS, and sending it from local
  // HTTP development would only mislead.
  strictTransportSecurity: false,
};

function isBoard(path: string): boolean {
  return path === '/api/admin/board' || path.startsWith('/api/admin/board/');
}

function isDocs(path: string): boolean {
  return path === '/api/docs' || path.startsWith('/api/docs/');
}

/**
 * Security headers for every response: a CSP that forbids everything for the JSON API, relaxed
 * ones scoped to the Swagger UI under /api/docs and Bull Board under /api/admin/board, and HSTS when the request arrived over TLS
 * (`ctx.secure` honours X-Forwarded-Proto when TRUST_PROXY is set).
 */
export function securityHeaders(): Middleware<AppState> {
  const api = helmet({
    ...common,
    contentSecurityPolicy: { useDefaults: false, directives: LOCKED_DOWN },
  });
  const docs = helmet({
    ...common,
    contentSecurityPolicy: { useDefaults: false, directives: DOCS },
  });
  const board = helmet({
    ...common,
    contentSecurityPolicy: { useDefaults: false, directives: BOARD },
  });
  const hsts = helmet.strictTransportSecurity();
  return (ctx, next) => {
    const headers = isDocs(ctx.path) ? docs : isBoard(ctx.path) ? board : api;
    return headers(ctx, ctx.secure ? () => hsts(ctx, next) : next);
  };
}
