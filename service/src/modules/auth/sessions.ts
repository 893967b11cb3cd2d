import { randomBytes } from 'node:crypto';
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
  'REDIS_KEY_PREFIX' | 'SESSION_IDLE_TIMEOUT_SECONDS' | 'SESSION_ABSOLUTE_TIMEOUT_SECONDS'
>;

/**
 * The session store: server-side sessions in Redis. The cookie holds a random id; Redis holds
 * only its SHA-256, so a leaked Redis dump cannot be replayed as cookies. Sessions end after
 * SESSION_IDLE_TIMEOUT of disuse (Redis TTL, refreshed on use) or SESSION_ABSOLUTE_TIMEOUT after
 * login, whichever is first. Every call goes through the Redis guard: while Redis cannot answer,
 * each method rejects with RedisUnavailableError (503 + Retry-After) rather than pretending the
 * session does not exist, so an outage never logs anyone out. Token authentication does not need
 * Redis. The cookie that carries the id belongs to the HTTP layer (`http/cookies.ts`).
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
}
