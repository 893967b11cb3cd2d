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

/**
 * A read's text: a hit, a fill (both the shared value: the caller overlays the viewer's part), or
 * `direct`: the cache was not usable and the caller's direct query answered (nothing to overlay).
 */
export interface CacheRead {
  text: string;
  hit: boolean;
  direct: boolean;
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

// KEYS: generation keys (the epoch first), then their pending-write counters. ARGV[1]: the value
// key's stem. Returns the value key built from the generations read and the value (nil on a miss),
// or {key, nil, 1} while a write to one of them is in flight: one round trip per read. On a miss,
// also the WAL position a replica must have replayed to answer or fill it (docs/read-replicas.md):
// the latest LSN stored with the generations that exist ('' if none does; 'unknown' if one exists
// without an LSN).
const READ_LUA = `
local n = #KEYS / 2
local all = redis.call('MGET', unpack(KEYS))
local parts = {}
for i = 1, n do parts[i] = all[i] or '0' end
local key = ARGV[1] .. '@' .. table.concat(parts, '.')
for i = n + 1, #KEYS do
  if all[i] and tonumber(all[i]) > 0 then return {key, false, 1} end
end
local value = redis.call('GET', key)
local need = ''
if not value then
  for i = 1, n do
    if all[i] then
      local lsn = redis.call('GET', KEYS[i] .. ':lsn')
      if not lsn then
        need = 'unknown'
        break
      end
      if lsn > need then need = lsn end
    end
  end
end
return {key, value, 0, need}
`;
// Before a write: KEYS are pending-write counters; ARGV[1]: how long one may stay up (ms).
const BEGIN_LUA = `
for i = 1, #KEYS do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
end
return #KEYS
`;
// After a write: KEYS are generation keys to bump, then ARGV[2] pending counters to release.
// ARGV[1]: the generations' TTL in seconds (longer than any value's). ARGV[3]: the primary's WAL
// position after the commit (16 hex digits) stored with each bumped generation (only raised), or
// '' when unknown: then its LSN is dropped, so no replica answers or fills under it.
const END_LUA = `
local bumps = #KEYS - tonumber(ARGV[2])
for i = 1, bumps do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[1])
  local lsnKey = KEYS[i] .. ':lsn'
  if ARGV[3] == '' then
    redis.call('DEL', lsnKey)
  else
    local current = redis.call('GET', lsnKey)
    if (not current) or current < ARGV[3] then redis.call('SET', lsnKey, ARGV[3]) end
    redis.call('EXPIRE', lsnKey, ARGV[1])
  end
end
for i = bumps + 1, #KEYS do
  if redis.call('DECR', KEYS[i]) <= 0 then redis.call('DEL', KEYS[i]) end
end
return bumps
`;
/** A pending-write mark outlives no write: longer than REQUEST_TIMEOUT_MS's default. */
const PENDING_MS = 30_000;

type CacheRedis = Redis & {
  plinthCacheRead(
    numKeys: number,
    ...args: string[]
  ): Promise<[string, string | null, number, string?]>;
  plinthCacheBegin(numKeys: number, ...args: string[]): Promise<number>;
  plinthCacheEnd(numKeys: number, ...args: string[]): Promise<number>;
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
     * every bump so a replica that has replayed past it may answer and fill misses
     * (docs/read-replicas.md). @default none: misses on a replica are answered, never filled
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
        redis.defineCommand('plinthCacheBegin', { lua: BEGIN_LUA });
        redis.defineCommand('plinthCacheEnd', { lua: END_LUA });
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

  private pendingKey(g: string): string {
    return `${this.prefix}p:${g}`;
  }

  /**
   * The value for `spec`: from the cache, or from `fill` (then stored, if `source` is known fresh
   * and the value cacheable). `fill` runs once per key per process at a time (single flight).
   */
  async read<T>(
    spec: CacheSpec,
    source: ReadSource,
    fill: () => Promise<Fill<T>>,
    direct?: () => Promise<string>,
  ): Promise<CacheRead> {
    // Without the cache, the viewer's own query (one statement instead of the shared one plus an
    // overlay) when the caller has one.
    const bypass = async () => (direct ? direct() : (await fill()).text);
    if (!this.enabled) return { text: await bypass(), hit: false, direct: direct !== undefined };
    if (!(await this.epochFresh())) {
      this.requests.inc({ read: spec.read, result: 'error' });
      return { text: await bypass(), hit: false, direct: direct !== undefined };
    }
    const gens = ['epoch', ...spec.generations];
    const keys = [...gens.map((g) => this.genKey(g)), ...gens.map((g) => this.pendingKey(g))];
    const stem = `${this.prefix}v:${spec.read}:${spec.id}`;
    const found = await this.guard!.orElse(
      (r) => (r as CacheRedis).plinthCacheRead(keys.length, ...keys, stem),
      undefined,
    );
    if (!found) {
      this.requests.inc({ read: spec.read, result: 'error' });
      return { text: await bypass(), hit: false, direct: direct !== undefined };
    }
    const [key, value, pending, need = ''] = found;
    if (pending === 1) {
      // A write to this is in flight: its commit may or may not be visible yet, so neither the
      // cached value nor a fill is trustworthy; the database answers.
      this.requests.inc({ read: spec.read, result: 'skipped' });
      return { text: await bypass(), hit: false, direct: direct !== undefined };
    }
    if (value !== null) {
      this.requests.inc({ read: spec.read, result: 'hit' });
      return { text: value, hit: true, direct: false };
    }
    this.requests.inc({ read: spec.read, result: 'miss' });
    const shared = this.inFlight.get(key);
    if (shared) return { text: (await shared).text, hit: false, direct: false };
    // A miss on a replica behind the key's last invalidation is read from the primary instead:
    // the cache may have shown this key's newer state already (monotonic reads).
    if (need !== '') {
      await source.atLeast?.(need === 'unknown' ? need : printedLsn(need as SortableLsn));
    }
    const filling = this.fillAndStore(spec.read, key, this.fresh(source, need), fill);
    this.inFlight.set(key, filling);
    try {
      return { text: (await filling).text, hit: false, direct: false };
    } finally {
      this.inFlight.delete(key);
    }
  }

  /**
   * Whether `source` is known fresh for a key whose generations need `need` (READ_LUA): the
   * primary always; a replica when it has replayed past the LSN of the last bump of every one of
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
   * Runs `write` (which commits before it returns) as a cache invalidation (docs/read-path.md,
   * "Invalidation"): `before` are marked pending first, so no reader trusts the cache for them
   * while the commit may be visible and the bump not yet done; after the commit, `before` and the
   * generations `after` names (from the write's result) are bumped and the marks released. A
   * failed mark or bump makes the cache unusable until the epoch is bumped.
   */
  async write<T>(
    before: Generation[],
    write: () => Promise<T>,
    after: (result: T) => Generation[] = () => [],
  ): Promise<T> {
    if (!this.enabled) return write();
    const pending = [...new Set(before)].map((g) => this.pendingKey(g));
    let marked = pending.length === 0;
    if (!marked) {
      const ok = await this.guard!.orElse(
        (r) => (r as CacheRedis).plinthCacheBegin(pending.length, ...pending, String(PENDING_MS)),
        undefined,
      );
      marked = ok !== undefined;
      if (!marked) this.epochStale = true;
    }
    let result: T;
    try {
      result = await write();
    } catch (err) {
      if (marked) await this.end(before, pending);
      throw err;
    }
    await this.end([...before, ...after(result)], marked ? pending : []);
    return result;
  }

  /** Bumps `generations` after a committed write (no pending mark before it). */
  async bump(generations: Generation[]): Promise<void> {
    if (!this.enabled) return;
    await this.end(generations, []);
  }

  private async end(generations: Generation[], pending: string[]) {
    const gens = [...new Set(generations)].map((g) => this.genKey(g));
    if (gens.length + pending.length === 0) return;
    const keys = [...gens, ...pending];
    const lsn = gens.length > 0 ? await this.position() : '';
    const done = await this.guard!.orElse(
      (r) =>
        (r as CacheRedis).plinthCacheEnd(
          keys.length,
          ...keys,
          String(this.generationTtl()),
          String(pending.length),
          lsn,
        ),
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
    const epoch = this.genKey('epoch');
    // The epoch never expires (it is part of every key); its LSN neither.
    const ok = await this.guard!.orElse(
      (r) =>
        lsn
          ? r.multi().incr(epoch).set(`${epoch}:lsn`, lsn).exec()
          : r.multi().incr(epoch).del(`${epoch}:lsn`).exec(),
      undefined,
    );
    if (ok === undefined) return false;
    this.epochStale = false;
    return true;
  }
}
