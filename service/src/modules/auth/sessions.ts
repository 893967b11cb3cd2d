import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type { Config } from '../../config.js';
import { sha256 } from '../../crypto.js';
import type { RedisGuard } from '../../redis-guard.js';

export interface Session {
  userId: number;
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
}

type SessionConfig = Pick<
  Config,
  | 'REDIS_KEY_PREFIX'
  | 'SESSION_IDLE_TIMEOUT_SECONDS'
  | 'SESSION_ABSOLUTE_TIMEOUT_SECONDS'
  | 'SESSION_COOKIE_NAME'
  | 'SESSION_COOKIE_SECURE'
  | 'SESSION_SAMESITE'
  | 'NODE_ENV'
>;

/**
 * Server-side sessions in Redis. The cookie holds a random id; Redis holds only its SHA-256, so
 * a leaked Redis dump cannot be replayed as cookies. Sessions end after SESSION_IDLE_TIMEOUT of
 * disuse (Redis TTL, refreshed on use) or SESSION_ABSOLUTE_TIMEOUT after login, whichever is first.
 * Every call goes through the Redis guard: while Redis cannot answer, each method rejects with
 * RedisUnavailableError (503 + Retry-After) rather than pretending the session does not exist,
 * so an outage never logs anyone out. Token authentication does not need Redis.
 */
export class Sessions {
  constructor(
    private readonly guard: RedisGuard,
    private readonly config: SessionConfig,
  ) {}

  private key(id: string) {
    return `${this.config.REDIS_KEY_PREFIX}sess:${sha256(id)}`;
  }

  private userKey(userId: number) {
    return `${this.config.REDIS_KEY_PREFIX}user-sessions:${userId}`;
  }

  /** Starts a session for a user: always a brand-new id (no fixation). */
  async create(userId: number): Promise<{ id: string; session: Session }> {
    const id = randomBytes(32).toString('base64url');
    const now = Date.now();
    const session: Session = {
      userId,
      csrfToken: randomBytes(32).toString('base64url'),
      createdAt: now,
      lastSeenAt: now,
    };
    const ttl = this.config.SESSION_IDLE_TIMEOUT_SECONDS;
    await this.guard.run('session', (redis) =>
      redis
        .multi()
        .set(this.key(id), JSON.stringify(session), 'EX', ttl)
        .sadd(this.userKey(userId), sha256(id))
        .expire(this.userKey(userId), this.config.SESSION_ABSOLUTE_TIMEOUT_SECONDS)
        .exec(),
    );
    return { id, session };
  }

  /** The live session for a cookie id (refreshing its idle timer), or undefined if none. */
  async get(id: string): Promise<Session | undefined> {
    const raw = await this.guard.run('session', (redis) => redis.get(this.key(id)));
    if (!raw) return undefined;
    const session = JSON.parse(raw) as Session;
    const now = Date.now();
    if (now - session.createdAt > this.config.SESSION_ABSOLUTE_TIMEOUT_SECONDS * 1000) {
      await this.destroy(id, session.userId);
      return undefined;
    }
    session.lastSeenAt = now;
    await this.guard.run('session', (redis) =>
      redis.set(
        this.key(id),
        JSON.stringify(session),
        'EX',
        this.config.SESSION_IDLE_TIMEOUT_SECONDS,
      ),
    );
    return session;
  }

  async destroy(id: string, userId: number): Promise<void> {
    await this.guard.run('session', (redis) =>
      redis.multi().del(this.key(id)).srem(this.userKey(userId), sha256(id)).exec(),
    );
  }

  /** Ends every session of a user ("log out everywhere", suspension). */
  async destroyAll(userId: number): Promise<void> {
    await this.guard.run('session', async (redis) => {
      const hashes = await redis.smembers(this.userKey(userId));
      const keys = hashes.map((h) => `${this.config.REDIS_KEY_PREFIX}sess:${h}`);
      await redis.del(this.userKey(userId), ...keys);
    });
  }

  private secure(): boolean {
    return this.config.SESSION_COOKIE_SECURE ?? this.config.NODE_ENV === 'production';
  }

  /** httpOnly, SameSite, Secure in production; path `/` so it covers the API. */
  setCookie(ctx: Context, id: string): void {
    // Behind a TLS-terminating load balancer without TRUST_PROXY the request looks insecure;
    // the Secure attribute is still right (the browser is on HTTPS), so tell `cookies` so.
    if (this.secure()) ctx.cookies.secure = true;
    ctx.cookies.set(this.config.SESSION_COOKIE_NAME, id, {
      httpOnly: true,
      sameSite: this.config.SESSION_SAMESITE,
      secure: this.secure(),
      path: '/',
      maxAge: this.config.SESSION_ABSOLUTE_TIMEOUT_SECONDS * 1000,
      overwrite: true,
    });
  }

  clearCookie(ctx: Context): void {
    if (this.secure()) ctx.cookies.secure = true;
    ctx.cookies.set(this.config.SESSION_COOKIE_NAME, '', {
      httpOnly: true,
      sameSite: this.config.SESSION_SAMESITE,
      secure: this.secure(),
      path: '/',
      maxAge: 0,
      overwrite: true,
    });
  }

  cookieId(ctx: Context): string | undefined {
    const id = ctx.cookies.get(this.config.SESSION_COOKIE_NAME);
    return id && /^[A-Za-z0-9_-]{43}$/.test(id) ? id : undefined;
  }
}
