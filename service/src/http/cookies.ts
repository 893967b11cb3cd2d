import type { Context } from 'koa';
import type { Config } from '../config.js';

type CookieConfig = Pick<
  Config,
  | 'SESSION_COOKIE_NAME'
  | 'SESSION_COOKIE_SECURE'
  | 'SESSION_SAMESITE'
  | 'SESSION_ABSOLUTE_TIMEOUT_SECONDS'
  | 'NODE_ENV'
>;

/** What the browser is told about a cookie besides its value. */
interface CookieOptions {
  path: string;
  sameSite: 'lax' | 'strict' | 'none';
  /** Lifetime; 0 deletes the cookie. */
  maxAgeMs: number;
}

/**
 * The service's cookies (the session cookie, the OIDC state cookie): httpOnly, SameSite, and
 * Secure in production unless SESSION_COOKIE_SECURE says otherwise, one rule for all of them.
 */
export class Cookies {
  readonly secure: boolean;

  constructor(private readonly config: CookieConfig) {
    this.secure = config.SESSION_COOKIE_SECURE ?? config.NODE_ENV === 'production';
  }

  /** Sets (or, with `maxAgeMs` 0 and an empty value, deletes) an httpOnly cookie. */
  set(ctx: Context, name: string, value: string, options: CookieOptions): void {
    // Behind a TLS-terminating load balancer without TRUST_PROXY the request looks insecure;
    // the Secure attribute is still right (the browser is on HTTPS), so tell `cookies` so.
    if (this.secure) ctx.cookies.secure = true;
    ctx.cookies.set(name, value, {
      httpOnly: true,
      sameSite: options.sameSite,
      secure: this.secure,
      path: options.path,
      maxAge: options.maxAgeMs,
      overwrite: true,
    });
  }

  /** Sets the session cookie: path `/` so it covers the API, for the session's absolute lifetime. */
  setSession(ctx: Context, id: string): void {
    this.set(ctx, this.config.SESSION_COOKIE_NAME, id, this.sessionOptions(true));
  }

  clearSession(ctx: Context): void {
    this.set(ctx, this.config.SESSION_COOKIE_NAME, '', this.sessionOptions(false));
  }

  /** The session id the browser sent, if it is well-formed. */
  sessionId(ctx: Context): string | undefined {
    const id = ctx.cookies.get(this.config.SESSION_COOKIE_NAME);
    return id && /^[A-Za-z0-9_-]{43}$/.test(id) ? id : undefined;
  }

  private sessionOptions(live: boolean): CookieOptions {
    return {
      path: '/',
      sameSite: this.config.SESSION_SAMESITE,
      maxAgeMs: live ? this.config.SESSION_ABSOLUTE_TIMEOUT_SECONDS * 1000 : 0,
    };
  }
}
