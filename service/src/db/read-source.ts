import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * Where a request's plain reads run (docs/read-path.md). The read models (article list and feed,
 * single article, comments, profile, tags) take one of these, never an EntityManager, so the
 * replica routing (issue 10) can hand them a replica instead of the primary.
 */
export interface ReadSource {
  /**
   * Runs one parameterized statement and returns its rows. Parameters are positional `?`
   * placeholders, bound in order from `params` (MikroORM's `execute` convention; an array
   * parameter expands to a list, e.g. `id in (?)`). Write literal question marks in SQL as `\\?`
   * (none of the read models need them).
   */
  all<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Where it ran: 'primary' or 'replica' (for tests and metrics). */
  readonly role: 'primary' | 'replica';
  /**
   * For a replica: the WAL position it had replayed when the source was chosen (pg_lsn text).
   * The cache's fill rule uses it (docs/read-path.md, "Fill rule"): a source may fill the cache
   * only if it is known fresh. Undefined for the primary, which always is.
   */
  readonly replayLsn?: string;
  /**
   * For a replica: makes the statements that follow see at least WAL position `lsn` (pg_lsn
   * text; `'unknown'`: a position that cannot be known), by moving them to the primary when this
   * replica has not replayed that far (`role` then says 'primary'). The cache calls it before
   * answering a miss, so a read never shows less than a value the cache may already have shown
   * (docs/read-replicas.md). Absent for the primary.
   */
  atLeast?(lsn: string): Promise<void>;
}

/** Chooses where one request's plain reads run. Default: always the primary (through the request's em). */
export type ReadRouter = (ctx: { em: EntityManager; userId: number | null }) => Promise<ReadSource>;

/** The primary, through `em` (its connection, and its transaction when it is in one). */
export function primarySource(em: EntityManager): ReadSource {
  return {
    role: 'primary',
    all: <T>(sql: string, params: readonly unknown[] = []) =>
      em.execute<T[]>(sql, [...params], 'all') as Promise<T[]>,
  };
}

/** The default router: every read on the primary. */
export const primaryRouter: ReadRouter = ({ em }) => Promise.resolve(primarySource(em));
