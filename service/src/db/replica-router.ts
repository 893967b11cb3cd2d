import type { EntityManager } from '@mikro-orm/postgresql';
import { databaseTarget } from '../config.js';
import type { Logger } from '../logger.js';
import { counter, gauge, type Metrics } from '../metrics.js';
import { printedLsn, sortableLsn, type SortableLsn } from './lsn.js';
import type { Orm } from './orm.js';
import { isConnectionFailure } from './outage.js';
import { primarySource, type ReadRouter, type ReadSource } from './read-source.js';
import type { ReadYourWrites } from './read-your-writes.js';
import type { ReplicaList } from './replicas.js';

/** Options of {@link ReplicaRouter}. */
export interface ReplicaRouterOptions {
  /** The primary's ORM: its WAL position is sampled to measure replica lag. */
  primary: Orm;
  /** The replicas as configured or discovered; re-read on every health check. */
  replicas: ReplicaList;
  /** Opens the pool of one replica (DATABASE_REPLICA_POOL_MAX connections). */
  connect: (url: string) => Promise<Orm>;
  /** Per-user WAL floors, shared by every API task through Redis. */
  readYourWrites: ReadYourWrites;
  /** A replica further behind than this is skipped until it catches up (DATABASE_REPLICA_MAX_LAG_MS). */
  maxLagMs: number;
  /** How often each replica's replay position and the primary's WAL position are read. */
  healthIntervalMs: number;
  /**
   * How long a user's floor lives in Redis (DATABASE_REPLICA_RYW_TTL_MS); also how long this
   * task sends signed-in reads to the primary after it failed to record a floor.
   */
  floorTtlMs: number;
  logger: Logger;
  /** Counts reads per role and reason (`plinth_db_reads_total`). @default not counted */
  metrics?: Metrics;
}

/** What the health checks know about one replica. */
export interface ReplicaHealth {
  /** host:port/database, never credentials. */
  target: string;
  healthy: boolean;
  /** WAL replayed at the last check (printed pg_lsn), if it answered. */
  replayLsn?: string;
  /** How far behind the primary it was at the last check. */
  lagMs?: number;
  /** Why it is skipped, when it is. */
  reason?: string;
}

interface Replica {
  url: string;
  target: string;
  orm: Orm;
  healthy: boolean;
  replayLsn?: SortableLsn;
  lagMs?: number;
  reason?: string;
  /** A probe still waiting for an answer (a hung replica): no second one is sent. */
  probing?: Promise<void>;
}

/** Why a read went where it went (the `reason` label of `plinth_db_reads_total`). */
type Reason =
  | 'anonymous'
  | 'caught-up'
  | 'write'
  | 'no-healthy-replica'
  | 'replica-behind'
  | 'floor-unknown'
  | 'replica-failed';

const PROBE = `select pg_is_in_recovery() as recovery,
  pg_last_wal_replay_lsn()::text as lsn,
  extract(epoch from now() - pg_last_xact_replay_timestamp()) * 1000 as replay_age_ms`;
const PRIMARY_LSN = 'select pg_current_wal_lsn()::text as lsn';

/** Rejects with `message` when `work` has not settled within `ms`. */
function within<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Routes each request's plain reads to a healthy read replica when that cannot show the user
 * anything older than what they have already seen (docs/read-replicas.md):
 *
 * - writes, transactions and write requests ({@link pinToPrimary}) stay on the primary;
 * - anonymous reads go to a healthy replica (round robin);
 * - a signed-in user's read goes to a healthy replica that has replayed past the user's floor in
 *   Redis (their last committed write, or what a primary read showed them); the same replica for
 *   the same user while it stays healthy, so consecutive reads never go back in time;
 *   otherwise to the primary, which then raises the floor to what it showed (monotonic reads);
 * - without a healthy replica, or when the floor cannot be read from Redis: the primary.
 *
 * Health: every `healthIntervalMs` each replica's `pg_last_wal_replay_lsn()` is compared with the
 * primary's WAL history; a replica that does not answer, is not in recovery, or lags more than
 * `maxLagMs` is skipped until a later check finds it fine. A read that fails on a replica for a
 * connection reason is retried on the primary and the replica is skipped from then on.
 */
export class ReplicaRouter {
  private readonly pools = new Map<string, Replica>();
  /** The primary's WAL position each time it changed: (when first seen, where). */
  private history: { at: number; lsn: SortableLsn }[] = [];
  private readonly pinned = new WeakSet<EntityManager>();
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  /** A check queued behind the one under way (see `check`). */
  private nextCheck: Promise<void> | undefined;
  private nextAnonymous = 0;
  private floorsUnknownUntil = 0;
  private stopped = false;
  private readonly reads;
  private readonly lagGauge;

  constructor(private readonly options: ReplicaRouterOptions) {
    this.reads =
      options.metrics &&
      counter(options.metrics, 'plinth_db_reads_total', 'Read statements by where they ran', [
        'role',
        'reason',
        'viewer',
      ]);
    this.lagGauge =
      options.metrics &&
      gauge(
        options.metrics,
        'plinth_db_replica_lag_ms',
        'Replica lag at the last check (-1: skipped as unhealthy)',
        ['replica'],
      );
  }

  /** The {@link ReadRouter} to hand to the read path. */
  readonly route: ReadRouter = async ({ em, userId }) => {
    if (this.pinned.has(em) || em.isInTransaction()) return this.primary(em, 'write', userId);
    const healthy = this.healthy();
    if (healthy.length === 0) return this.primary(em, 'no-healthy-replica', userId, true);
    if (userId === null) {
      return this.replica(em, healthy[this.nextAnonymous++ % healthy.length]!, 'anonymous', null);
    }
    if (Date.now() < this.floorsUnknownUntil) return this.primary(em, 'floor-unknown', userId);
    let floor: SortableLsn | undefined;
    try {
      floor = await this.options.readYourWrites.floor(userId);
    } catch {
      return this.primary(em, 'floor-unknown', userId);
    }
    // The user's own replica first: switching replicas could show an older state.
    const own = healthy[userId % healthy.length]!;
    if (floor === undefined || (own.replayLsn !== undefined && own.replayLsn >= floor)) {
      return this.replica(em, own, 'caught-up', userId);
    }
    const replayed = await this.replayedNow(own);
    if (replayed !== undefined && replayed >= floor) {
      return this.replica(em, own, 'caught-up', userId);
    }
    return this.primary(em, 'replica-behind', userId, true);
  };

  /** Keeps every read of `em`'s unit of work on the primary (a request that writes). */
  pinToPrimary(em: EntityManager): void {
    this.pinned.add(em);
  }

  /**
   * After a request by `userId` that may have committed writes: raises the user's floor to the
   * primary's WAL position now (at or after every commit the request made), before the response
   * is sent. If Redis cannot take it, this task reads for signed-in users from the primary until
   * a floor recorded now would have expired; other tasks see Redis failing too.
   */
  async recordWrite(userId: number): Promise<void> {
    try {
      await this.raiseToPrimary(userId);
    } catch (err) {
      this.floorsUnknownUntil = Date.now() + this.options.floorTtlMs;
      this.options.logger.warn(
        { err: (err as Error).message, userId },
        'could not record a write for read-your-writes; signed-in reads use the primary for now',
      );
    }
  }

  /** Checks now, then every `healthIntervalMs`. Resolves after the first check. */
  async start(): Promise<void> {
    this.timer = setInterval(() => void this.check(), this.options.healthIntervalMs);
    this.timer.unref();
    await this.check();
  }

  /** Stops checking and closes the replicas' pools. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.nextCheck?.catch(() => undefined);
    await this.checking?.catch(() => undefined);
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(pools.map((r) => r.orm.close(true)));
  }

  /**
   * One health check of every replica that starts after this call (the replica list may have just
   * changed): with one under way, the next runs after it, shared by every caller meanwhile.
   * Tests call it to skip the wait.
   */
  check(): Promise<void> {
    if (!this.checking) {
      this.checking = this.runCheck().finally(() => (this.checking = undefined));
      return this.checking;
    }
    this.nextCheck ??= this.checking
      .catch(() => undefined)
      .then(() => {
        this.nextCheck = undefined;
        return this.check();
      });
    return this.nextCheck;
  }

  /** What the last check found, one entry per replica. */
  health(): ReplicaHealth[] {
    return [...this.pools.values()].map((r) => ({
      target: r.target,
      healthy: r.healthy,
      ...(r.replayLsn ? { replayLsn: printedLsn(r.replayLsn) } : {}),
      ...(r.lagMs !== undefined ? { lagMs: Math.round(r.lagMs) } : {}),
      ...(r.reason ? { reason: r.reason } : {}),
    }));
  }

  private healthy(): Replica[] {
    return [...this.pools.values()].filter((r) => r.healthy);
  }

  private primary(
    em: EntityManager,
    reason: Reason,
    viewer: number | null,
    monotonic = false,
  ): ReadSource {
    const source = primarySource(em);
    return {
      role: 'primary',
      all: async <T>(sql: string, params?: readonly unknown[]) => {
        const rows = await source.all<T>(sql, params);
        this.reads?.inc({ role: 'primary', reason, viewer: viewerLabel(viewer) });
        // What this read showed is the user's floor now: a replica read next must not go back.
        if (monotonic && viewer !== null) {
          await this.raiseToPrimary(viewer).catch(() => undefined);
        }
        return rows;
      },
    };
  }

  private replica(
    em: EntityManager,
    replica: Replica,
    reason: Reason,
    viewer: number | null,
  ): ReadSource {
    const { orm } = replica;
    /** Set once the caller needs a position this replica has not replayed: the primary. */
    let moved: ReadSource | undefined;
    const behind = (want: SortableLsn | undefined) =>
      want === undefined || replica.replayLsn === undefined || replica.replayLsn < want;
    return {
      get role() {
        return moved ? 'primary' : 'replica';
      },
      get replayLsn() {
        // What it has replayed by now (at least what it had when chosen: replay moves forward).
        return moved || !replica.replayLsn ? undefined : printedLsn(replica.replayLsn);
      },
      atLeast: async (lsn: string) => {
        if (moved) return;
        const want = lsn === 'unknown' ? undefined : sortableLsn(lsn);
        if (!behind(want)) return;
        if (want !== undefined) await this.replayedNow(replica);
        if (behind(want)) moved = this.primary(em, 'replica-behind', viewer, viewer !== null);
      },
      all: async <T>(sql: string, params: readonly unknown[] = []) => {
        if (moved) return moved.all<T>(sql, params);
        try {
          const rows = (await orm.em.getConnection().execute(sql, [...params], 'all')) as T[];
          this.reads?.inc({ role: 'replica', reason, viewer: viewerLabel(viewer) });
          return rows;
        } catch (err) {
          if (!isConnectionFailure(err) && !isRecoveryConflict(err)) throw err;
          this.markUnhealthy(replica, `read failed: ${(err as Error).message}`);
          const rows = await primarySource(em).all<T>(sql, params);
          this.reads?.inc({
            role: 'primary',
            reason: 'replica-failed',
            viewer: viewerLabel(viewer),
          });
          return rows;
        }
      },
    };
  }

  /**
   * The primary's WAL position now (pg_lsn text): at or after the end of every transaction
   * committed before the call. The cache stores it with each invalidation.
   */
  async walPosition(): Promise<string> {
    const [row] = await this.options.primary.em
      .getConnection()
      .execute<{ lsn: string }[]>(PRIMARY_LSN);
    return row!.lsn;
  }

  private async raiseToPrimary(userId: number): Promise<void> {
    await this.options.readYourWrites.raise(userId, await this.walPosition());
  }

  /** The replica's replay position asked right now (cheap; undefined if it cannot say). */
  private async replayedNow(replica: Replica): Promise<SortableLsn | undefined> {
    try {
      const [row] = await within(
        replica.orm.em
          .getConnection()
          .execute<{ lsn: string | null }[]>('select pg_last_wal_replay_lsn()::text as lsn'),
        this.probeTimeoutMs(),
        'replica did not answer',
      );
      if (!row?.lsn) return undefined;
      const lsn = sortableLsn(row.lsn);
      if (replica.replayLsn === undefined || lsn > replica.replayLsn) replica.replayLsn = lsn;
      return lsn;
    } catch {
      return undefined;
    }
  }

  private probeTimeoutMs(): number {
    return Math.max(200, Math.min(this.options.healthIntervalMs, 2_000));
  }

  private async runCheck(): Promise<void> {
    if (this.stopped) return;
    await this.syncPools();
    const now = Date.now();
    try {
      const [row] = await within(
        this.options.primary.em.getConnection().execute<{ lsn: string }[]>(PRIMARY_LSN),
        this.probeTimeoutMs(),
        'primary did not answer',
      );
      const lsn = sortableLsn(row!.lsn);
      if (this.history.at(-1)?.lsn !== lsn) this.history.push({ at: now, lsn });
    } catch {
      // Without the primary's position the lag is unknown; the last one still bounds it.
    }
    // Enough history to tell any lag up to well past the bound.
    const keepFrom = now - 2 * this.options.maxLagMs - 10 * this.options.healthIntervalMs;
    while (this.history.length > 1 && this.history[1]!.at < keepFrom) this.history.shift();
    await Promise.all([...this.pools.values()].map((replica) => this.probe(replica)));
  }

  private async syncPools(): Promise<void> {
    const wanted = new Set(this.options.replicas.urls());
    for (const [url, replica] of this.pools) {
      if (wanted.has(url)) continue;
      this.pools.delete(url);
      this.options.logger.info({ replica: replica.target }, 'read replica removed');
      void replica.orm.close(true).catch(() => undefined);
    }
    for (const url of wanted) {
      if (this.pools.has(url)) continue;
      const target = databaseTarget({ DATABASE_URL: url });
      try {
        const orm = await this.options.connect(url);
        if (this.stopped) {
          await orm.close(true);
          return;
        }
        this.pools.set(url, { url, target, orm, healthy: false, reason: 'not checked yet' });
        this.options.logger.info({ replica: target }, 'read replica added');
      } catch (err) {
        this.options.logger.warn(
          { replica: target, err: (err as Error).message },
          'read replica pool could not be created',
        );
      }
    }
  }

  private async probe(replica: Replica): Promise<void> {
    if (replica.probing) {
      this.markUnhealthy(replica, 'does not answer (previous health check still waiting)');
      return;
    }
    const run = (async () => {
      const [row] = await replica.orm.em.getConnection().execute<
        {
          recovery: boolean;
          lsn: string | null;
          replay_age_ms: string | number | null;
        }[]
      >(PROBE);
      if (!row?.recovery || !row.lsn) {
        this.markUnhealthy(replica, 'is not in recovery (promoted, or not a replica)');
        return;
      }
      const lsn = sortableLsn(row.lsn);
      replica.replayLsn = lsn;
      replica.lagMs = this.lagOf(
        lsn,
        row.replay_age_ms === null ? null : Number(row.replay_age_ms),
      );
      if (replica.lagMs > this.options.maxLagMs) {
        this.markUnhealthy(replica, `lags ${Math.round(replica.lagMs)} ms`);
      } else {
        this.markHealthy(replica);
      }
    })();
    replica.probing = run.catch(() => undefined).finally(() => (replica.probing = undefined));
    try {
      await within(run, this.probeTimeoutMs(), 'did not answer the health check in time');
    } catch (err) {
      this.markUnhealthy(replica, (err as Error).message);
    }
  }

  /**
   * How long ago the primary first showed WAL the replica has not replayed: 0 when it has replayed
   * everything seen; measured from the history to within one health interval. When the history
   * does not reach back that far (just started), the age of the last transaction the replica
   * replayed bounds it from above.
   */
  private lagOf(replayed: SortableLsn, replayAgeMs: number | null): number {
    const now = Date.now();
    const firstUnreplayed = this.history.findIndex((s) => s.lsn > replayed);
    if (firstUnreplayed === -1) return 0;
    if (firstUnreplayed > 0) return now - this.history[firstUnreplayed]!.at;
    return Math.max(now - this.history[0]!.at, replayAgeMs ?? Number.POSITIVE_INFINITY);
  }

  private markHealthy(replica: Replica): void {
    if (!replica.healthy) {
      this.options.logger.info(
        { replica: replica.target, lagMs: Math.round(replica.lagMs ?? 0) },
        'read replica healthy: reading from it',
      );
    }
    replica.healthy = true;
    replica.reason = undefined;
    this.lagGauge?.set({ replica: replica.target }, replica.lagMs ?? 0);
  }

  private markUnhealthy(replica: Replica, reason: string): void {
    if (replica.healthy || replica.reason === 'not checked yet') {
      this.options.logger.warn(
        { replica: replica.target, reason },
        'read replica skipped until it recovers',
      );
    }
    replica.healthy = false;
    replica.reason = reason;
    this.lagGauge?.set({ replica: replica.target }, -1);
  }
}

const viewerLabel = (userId: number | null) => (userId === null ? 'anonymous' : 'user');

/** A standby cancelled the query because replay needed what it read (SQLSTATE 40001 there). */
function isRecoveryConflict(err: unknown): boolean {
  return /conflict with recovery/.test((err as Error | undefined)?.message ?? '');
}
