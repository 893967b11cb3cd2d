import type { RedisGuard } from './redis-guard.js';
import type { Redis } from './redis.js';

/**
 * A fixed-window budget counted in Redis, spent locally from points reserved in batches
 * (docs/security.md, "Accuracy of the per-IP limits"): a client that keeps sending costs one
 * Redis round trip per batch, not per request.
 *
 * Every point is counted in Redis before it is spent, so all processes together never admit more
 * than `points` per window. The price: points one process reserved and did not spend are lost to
 * the others, so with P processes serving one client it may be refused up to P × (batch − 1)
 * requests early. The first reservation of a key in a window is 1 point, each next one doubles,
 * up to `maxBatch` and never past the points left: a client that sends a few requests is counted
 * exactly, and with one process every client is (its `RateLimit-Remaining` too).
 *
 * The Redis keys (`<prefix>:<key>`, an integer with the window's expiry) are
 * rate-limiter-flexible's, so processes of the previous release count into the same windows.
 */

// KEYS[1]: the window's counter. ARGV[1]: points to reserve; ARGV[2]: the window in ms.
// Returns the counter after the reservation and the ms before the window ends.
const RESERVE_LUA = `
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {count, ttl}
`;

type ReservingRedis = Redis & {
  plinthRateReserve(numKeys: number, ...args: string[]): Promise<[number, number]>;
};

/** Points of one window this process holds: `next`..`last` are still to be spent. */
interface Lease {
  next: number;
  last: number;
  /** The window's end on this process's clock (ms since the epoch). */
  endsAt: number;
  /** The size of the next reservation. */
  batch: number;
  /** Redis counted `points` or more in this window: refuse until it ends. */
  spent: boolean;
}

/** A point spent: its number in the window (1 = the first), or a refusal. */
export type Spent = { point: number; msBeforeNext: number } | { refusedMs: number };

/** Leases kept before expired ones are swept (then all dropped if still over 4×). */
const SWEEP_AT = 10_000;

export class ReservedBudget {
  private readonly leases = new Map<string, Lease>();
  private readonly reserving = new Map<string, Promise<void>>();

  constructor(
    private readonly guard: RedisGuard,
    /** rate-limiter-flexible's `keyPrefix` for this budget. */
    private readonly keyPrefix: string,
    readonly points: number,
    private readonly windowMs: number,
    /** The largest reservation (1: every request asks Redis). */
    private readonly maxBatch: number,
  ) {
    const redis = guard.redis;
    if (!('plinthRateReserve' in redis)) {
      redis.defineCommand('plinthRateReserve', { lua: RESERVE_LUA });
    }
  }

  /**
   * Spends one point of `key`'s budget: locally when a reserved one is left, else after one
   * reservation in Redis (shared by the key's concurrent requests). Rejects with
   * RedisUnavailableError when Redis cannot answer (the caller falls back).
   */
  async spend(key: string): Promise<Spent> {
    for (;;) {
      const now = Date.now();
      let lease = this.leases.get(key);
      if (lease && lease.endsAt <= now) {
        this.leases.delete(key);
        lease = undefined;
      }
      if (lease && lease.next <= lease.last) {
        return { point: lease.next++, msBeforeNext: lease.endsAt - now };
      }
      if (lease?.spent) return { refusedMs: lease.endsAt - now };
      let reserving = this.reserving.get(key);
      if (!reserving) {
        reserving = this.reserve(key, lease).finally(() => this.reserving.delete(key));
        this.reserving.set(key, reserving);
      }
      await reserving;
    }
  }

  private async reserve(key: string, previous: Lease | undefined): Promise<void> {
    // Never more than the window has left, as far as this process knows.
    const left = previous ? this.points - previous.last : this.points;
    const size = Math.max(1, Math.min(previous?.batch ?? 1, left));
    const [count, ttl] = await this.guard.run('rate', (r) =>
      (r as ReservingRedis).plinthRateReserve(
        1,
        `${this.keyPrefix}:${key}`,
        String(size),
        String(this.windowMs),
      ),
    );
    if (this.leases.size >= SWEEP_AT) this.sweep();
    this.leases.set(key, {
      next: count - size + 1,
      last: Math.min(count, this.points),
      endsAt: Date.now() + ttl,
      batch: Math.min(size * 2, this.maxBatch),
      spent: count >= this.points,
    });
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, lease] of this.leases) if (lease.endsAt <= now) this.leases.delete(key);
    // Dropping live leases only loses reserved points: clients may be refused early, never late.
    if (this.leases.size >= SWEEP_AT * 4) this.leases.clear();
  }
}
