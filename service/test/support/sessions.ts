import { expect } from '@jest/globals';
import type { ApiResponse } from './client.js';
import type { TestServer } from './server.js';

/** A cookie session as a browser holds it. */
export interface BrowserSession {
  /** The session cookie's `Set-Cookie` line, attributes included. */
  setCookie: string;
  /** The `Cookie` request header that carries it. */
  cookie: string;
  /** The CSRF token unsafe requests echo in `X-CSRF-Token`. */
  csrf: string;
  /** The login response's body. */
  body: any;
}

/** Logs in with a cookie session (expects 201), optionally from a browser that had `previousCookie`. */
export async function startSession(
  server: Pick<TestServer, 'api' | 'config'>,
  credentials: { email: string; password: string },
  previousCookie?: string,
): Promise<BrowserSession> {
  const res: ApiResponse = await server.api.post('/sessions', {
    body: { user: { email: credentials.email, password: credentials.password } },
    ...(previousCookie ? { headers: { Cookie: previousCookie } } : {}),
  });
  expect(res.status).toBe(201);
  const name = server.config.SESSION_COOKIE_NAME;
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`))!;
  return {
    setCookie,
    cookie: setCookie.split(';')[0]!,
    csrf: res.body.csrfToken as string,
    body: res.body,
  };
}
