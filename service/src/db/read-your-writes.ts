import type { RedisGuard } from '../redis-guard.js';
import { sortableLsn, type SortableLsn } from './lsn.js';

/**
 * Raises the key to ARGV[1] unless it already holds a later position (fixed-width hex compares
 * as WAL order), and (re)arms its TTL either way: two API tasks recording the same user's writes
 * out of order can never lower it.
 */
const RAISE = `
local current = redis.call('GET', KEYS[1])
if (not current) or current < ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return current`;

export interface ReadYourWritesOptions {
  /** The guard of the app's main (non-evicting) Redis: an evicted marker would be a stale read. */
  guard: RedisGuard;
  /** REDIS_KEY_PREFIX. */
  keyPrefix: string;
  /** How long a user's marker lives (DATABASE_REPLICA_RYW_TTL_MS). */
  ttlMs: number;
}

/**
 * Per signed-in user, the latest WAL position they must see: the end of their last committed
 * write, and (for monotonic reads) the primary's position after a read that had to use the
 * primary. Kept in Redis so every API task shares it; a token-only client carries nothing.
 *
 * The marker only has to outlive a replica's lag: a replica further behind than
 * DATABASE_REPLICA_MAX_LAG_MS is not read from at all, and the TTL is validated to be longer.
 */
export class ReadYourWrites {
  constructor(private readonly options: ReadYourWritesOptions) {}

  private key(userId: number): string {
    return `${this.options.keyPrefix}ryw:${userId}`;
  }

  /**
   * The position `userId` must see, or undefined when there is none (no recent write).
   * Rejects with RedisUnavailableError when Redis cannot say: the caller then reads from the
   * primary.
   */
  async floor(userId: number): Promise<SortableLsn | undefined> {
    const value = await this.options.guard.run('read-your-writes', (redis) =>
      redis.get(this.key(userId)),
    );
    return value ? (value as SortableLsn) : undefined;
  }

  /** Raises `userId`'s floor to `lsn` (a printed LSN from PostgreSQL). */
  async raise(userId: number, lsn: string): Promise<void> {
    const position = sortableLsn(lsn);
    await this.options.guard.run('read-your-writes', (redis) =>
      redis.eval(RAISE, 1, this.key(userId), position, String(this.options.ttlMs)),
    );
  }
}
