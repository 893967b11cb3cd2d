import { setTimeout as sleep } from 'node:timers/promises';
import type { Counter } from 'prom-client';
import type { Config } from './config.js';
import { printedLsn, sortableLsn, type SortableLsn } from './db/lsn.js';
import type { ReadSource } from './db/read-source.js';
import { counter, createMetrics, type Metrics } from './metrics.js';
import type { RedisGuard } from './redis-guard.js';
import type { Redis } from './redis.js';

/**
 * The read cache (docs/read-path.md): cache-aside in Redis with generation-versioned keys.
 * A value key embeds the generations it was built under; writes bump generations after commit, so
 * invalidation never deletes and a slow fill lands on a key nobody asks for again. Every command
 * goes through the cache client's Redis guard and fails open: no cache, the database answers.
 */

/** A generation: what a write invalidates. */
export type Generation = 'lists' | 'tags' | 'users' | `article:${string}` | `comments:${string}`;

/** The hot reads, the `read` label of the counters. */
export type CachedRead = 'list' | 'article' | 'comments' | 'profile' | 'tags';

export interface CacheSpec {
  read: CachedRead;
  /** Generations the value depends on. */
  generations: Generation[];
  /** The value's identity beyond the generations (slug, normalised filter…), a bounded string. */
  id: string;
}

/** What a fill produced: the value's text, or undefined for "do not cache" (e.g. a 404). */
export type Fill<T> = { value: T; text: string; cacheable: boolean };

export type CacheConfig = Pick<
  Config,
  | 'CACHE_ENABLED'
  | 'CACHE_TTL_SECONDS'
  | 'CACHE_MAX_VALUE_BYTES'
  | 'CACHE_LOCK_MS'
  | 'REDIS_KEY_PREFIX'
>;

// KEYS: generation keys (the epoch first). ARGV[1]: the value key's stem. Returns the value key
// built from the generations read, the value (nil on a miss), and on a miss the WAL position a
// replica must have replayed to fill it (docs/read-replicas.md, "Cache fills from a replica"):
// the latest LSN stored with the generations that exist, '' when none exists (never bumped), or
// 'unknown' when one exists without an LSN. One round trip per read.
const READ_LUA = `
local parts = {}
local lsnKeys = {}
local gens = redis.call('MGET', unpack(KEYS))
for i = 1, #KEYS do
  parts[i] = gens[i] or '0'
  lsnKeys[i] = KEYS[i] .. ':lsn'
end
local key = ARGV[1] .. '@' .. table.concat(parts, '.')
local value = redis.call('GET', key)
local need = ''
if not value then
  local lsns = redis.call('MGET', unpack(lsnKeys))
  for i = 1, #KEYS do
    if gens[i] then
      if not lsns[i] then
        need = 'unknown'
        break
      end
      if lsns[i] > need then need = lsns[i] end
    end
  end
end
return {key, value, need}
`;
// KEYS: generation keys to bump. ARGV[1]: their TTL in seconds (longer than any value's), or ''
// for none (the epoch). ARGV[2]: the primary's WAL position after the write committed (16 hex digits), or '' when not
// known: then the LSN is dropped, so no replica fills under the new generation.
const BUMP_LUA = `
for i = 1, #KEYS do
  redis.call('INCR', KEYS[i])
  local lsnKey = KEYS[i] .. ':lsn'
  if ARGV[2] == '' then
    redis.call('DEL', lsnKey)
  else
    local current = redis.call('GET', lsnKey)
    if (not current) or current < ARGV[2] then redis.call('SET', lsnKey, ARGV[2]) end
  end
  if ARGV[1] ~= '' then
    redis.call('EXPIRE', KEYS[i], ARGV[1])
    if ARGV[2] ~= '' then redis.call('EXPIRE', lsnKey, ARGV[1]) end
  end
end
return #KEYS
`;

type CacheRedis = Redis & {
  plinthCacheRead(numKeys: number, ...args: string[]): Promise<[string, string | null, string]>;
  plinthCacheBump(numKeys: number, ...args: string[]): Promise<number>;
};

/** Polls of a value another process is filling, before reading the database ourselves. */
const LOCK_POLLS = 4;

export class ReadCache {
  readonly enabled: boolean;
  private readonly prefix: string;
  private readonly ttl: number;
  private readonly maxBytes: number;
  private readonly lockMs: number;
  private readonly requests: Counter<'read' | 'result'>;
  private readonly invalidations: Counter<'result'>;
  private readonly inFlight = new Map<string, Promise<{ text: string; cached: boolean }>>();
  /** A bump failed: every value may be stale until the epoch is bumped. */
  private epochStale = false;

  constructor(
    private readonly guard: RedisGuard | undefined,
    config: CacheConfig,
    metrics: Metrics,
    /**
     * The primary's WAL position now (pg_lsn text), when reads may run on replicas: stored with
     * every bump so a replica that has replayed past it may fill (docs/read-replicas.md).
     * @default none: only the primary fills
     */
    private readonly walPosition?: () => Promise<string>,
  ) {
    this.enabled = config.CACHE_ENABLED && guard !== undefined;
    this.prefix = `${config.REDIS_KEY_PREFIX}c:`;
    this.ttl = config.CACHE_TTL_SECONDS;
    this.maxBytes = config.CACHE_MAX_VALUE_BYTES;
    this.lockMs = config.CACHE_LOCK_MS;
    this.requests = counter(
      metrics,
      'plinth_cache_requests_total',
      'Cached reads by outcome: hit, miss (filled or not), error (cache unreachable: database read), skipped (not cacheable)',
      ['read', 'result'],
    );
    this.invalidations = counter(
      metrics,
      'plinth_cache_invalidations_total',
      'Generation bumps after writes, by outcome',
      ['result'],
    );
    if (guard && this.enabled) {
      const redis = guard.redis;
      if (!('plinthCacheRead' in redis)) {
        redis.defineCommand('plinthCacheRead', { lua: READ_LUA });
        redis.defineCommand('plinthCacheBump', { lua: BUMP_LUA });
      }
    }
  }

  /** A cache that is off: every read fills from the read model, bumps do nothing. */
  static off(): ReadCache {
    return new ReadCache(
      undefined,
      {
        CACHE_ENABLED: false,
        CACHE_TTL_SECONDS: 1,
        CACHE_MAX_VALUE_BYTES: 1024,
        CACHE_LOCK_MS: 10,
        REDIS_KEY_PREFIX: 'off:',
      },
      createMetrics(),
    );
  }

  private genKey(g: string): string {
    return `${this.prefix}g:${g}`;
  }

  /**
   * The value for `spec`: from the cache, or from `fill` (then stored, if `source` is known fresh
   * and the value cacheable). `fill` runs once per key per process at a time (single flight).
   */
  async read<T>(
    spec: CacheSpec,
    source: ReadSource,
    fill: () => Promise<Fill<T>>,
  ): Promise<{ text: string; hit: boolean }> {
    if (!this.enabled) return { text: (await fill()).text, hit: false };
    if (!(await this.epochFresh())) {
      this.requests.inc({ read: spec.read, result: 'error' });
      return { text: (await fill()).text, hit: false };
    }
    const keys = ['epoch', ...spec.generations].map((g) => this.genKey(g));
    const stem = `${this.prefix}v:${spec.read}:${spec.id}`;
    const found = await this.guard!.orElse(
      (r) => (r as CacheRedis).plinthCacheRead(keys.length, ...keys, stem),
      undefined,
    );
    if (!found) {
      this.requests.inc({ read: spec.read, result: 'error' });
      return { text: (await fill()).text, hit: false };
    }
    const [key, value, need] = found;
    if (value !== null) {
      this.requests.inc({ read: spec.read, result: 'hit' });
      return { text: value, hit: true };
    }
    this.requests.inc({ read: spec.read, result: 'miss' });
    const shared = this.inFlight.get(key);
    if (shared) return { text: (await shared).text, hit: false };
    // A miss on a replica behind the key's last invalidation is read from the primary instead:
    // the cache may have shown this key's newer state already (monotonic reads).
    if (need !== '')
      await source.atLeast?.(need === 'unknown' ? need : printedLsn(need as SortableLsn));
    const filling = this.fillAndStore(spec.read, key, this.fresh(source, need), fill);
    this.inFlight.set(key, filling);
    try {
      return { text: (await filling).text, hit: false };
    } finally {
      this.inFlight.delete(key);
    }
  }

  /**
   * Whether `source` is known fresh for a key whose generations need `need` (READ_LUA): the
   * primary always; a replica when it had replayed past the LSN of the last bump of every one of
   * them (replay only moves forward, so the fill's SQL sees at least that).
   */
  private fresh(source: ReadSource, need: string): boolean {
    if (source.role === 'primary') return true;
    if (source.replayLsn === undefined || need === 'unknown') return false;
    return sortableLsn(source.replayLsn) >= need;
  }

  /**
   * Fill rule: the key was built from generations read before this SQL runs, so if a write
   * committed and bumped meanwhile, this value lands on a dead key. Only a fresh source fills.
   */
  private async fillAndStore<T>(
    read: CachedRead,
    key: string,
    mayFill: boolean,
    fill: () => Promise<Fill<T>>,
  ): Promise<{ text: string; cached: boolean }> {
    const guard = this.guard!;
    if (mayFill) {
      const locked = await guard.orElse(
        (r) => r.set(`${key}:lock`, '1', 'PX', this.lockMs, 'NX'),
        null,
      );
      if (locked !== 'OK') {
        // Another process is filling it: wait a little for its value rather than add to the
        // database's load, then read the database ourselves.
        for (let i = 0; i < LOCK_POLLS; i++) {
          await sleep(Math.ceil(this.lockMs / (LOCK_POLLS * 2)));
          const value = await guard.orElse((r) => r.get(key), null);
          if (value !== null) return { text: value, cached: true };
        }
        return { text: (await fill()).text, cached: false };
      }
    }
    const filled = await fill();
    if (!mayFill || !filled.cacheable) return { text: filled.text, cached: false };
    if (Buffer.byteLength(filled.text) > this.maxBytes) {
      this.requests.inc({ read, result: 'skipped' });
      return { text: filled.text, cached: false };
    }
    // ±10 % jitter so values filled together do not expire together.
    const ttl = Math.max(1, Math.round(this.ttl * (0.9 + Math.random() * 0.2)));
    await guard.orElse((r) => r.set(key, filled.text, 'EX', ttl), null);
    return { text: filled.text, cached: true };
  }

  /**
   * Invalidates `generations`: call after the write's transaction committed, before answering.
   * A bump that fails marks every value suspect: the cache is not read again until the epoch (part
   * of every key) has been bumped.
   */
  async bump(generations: Generation[]): Promise<void> {
    if (!this.enabled || generations.length === 0) return;
    const keys = [...new Set(generations)].map((g) => this.genKey(g));
    const lsn = await this.position();
    const done = await this.guard!.orElse(
      (r) =>
        (r as CacheRedis).plinthCacheBump(keys.length, ...keys, String(this.generationTtl()), lsn),
      undefined,
    );
    this.invalidations.inc({ result: done === undefined ? 'error' : 'ok' });
    if (done === undefined) this.epochStale = true;
  }

  /** The primary's WAL position for a bump (16 hex digits), or '' when unknown or not needed. */
  private async position(): Promise<string> {
    if (!this.walPosition) return '';
    try {
      return sortableLsn(await this.walPosition());
    } catch {
      return '';
    }
  }

  /** Generations outlive every value built under them (docs/read-path.md). */
  private generationTtl(): number {
    return Math.ceil(this.ttl * 1.2) + 3600;
  }

  /** After a failed bump: bumps the epoch once Redis answers; false while it does not. */
  private async epochFresh(): Promise<boolean> {
    if (!this.epochStale) return true;
    const lsn = await this.position();
    const ok = await this.guard!.orElse(
      (r) =>
        // The epoch never expires (it is part of every key); its LSN neither.
        (r as CacheRedis).plinthCacheBump(1, this.genKey('epoch'), '', lsn),
      undefined,
    );
    if (ok === undefined) return false;
    this.epochStale = false;
    return true;
  }
}
