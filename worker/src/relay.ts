import { setTimeout as sleep } from 'node:timers/promises';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { JobData } from '../../service/src/jobs/contracts.js';
import type { Queue } from '../../service/src/jobs/queue.js';
import type { Logger } from '../../service/src/logger.js';
import { byId } from '../../service/src/jobs/outbox.js';
import { settlesWithin } from '../../service/src/main-util.js';

export interface RelayOptions {
  /** Rows claimed and handed to Bull per transaction. */
  batchSize: number;
  /** Sleep of an idle relay between looks at the outbox. */
  pollMs: number;
  /**
   * Longest wait for Bull to accept a batch; past it the claim rolls back and the rows are tried
   * again (Bull deduplicates by jobId if it did accept them). @default 10000
   */
  addTimeoutMs?: number;
  /** Called after every committed batch (metrics). */
  onRelayed?: (count: number) => void;
}

export interface Relay {
  /** Moves one batch; resolves with how many rows were sent. */
  relayOnce(): Promise<number>;
  /** Stops the loop after the batch in progress (which commits or rolls back whole). */
  stop(): Promise<void>;
}

interface Row {
  id: string;
  queue: string;
  name: string;
  payload: unknown;
  meta: Record<string, string>;
}

class AddTimeout extends Error {}

/**
 * Claims the oldest unsent rows of the known queues and marks them sent, in one statement of the
 * relay's transaction. `FOR UPDATE SKIP LOCKED` gives relays on several workers disjoint rows; a
 * relay whose subquery saw a row just before another relay's commit re-checks `sent_at is null`
 * on the locked row (PostgreSQL re-evaluates the condition on the new version) and leaves it.
 */
const CLAIM = `with claimed as (
    select id from outbox
    where sent_at is null and queue = any(string_to_array(?, ','))
    order by id limit ? for update skip locked)
  update outbox o set sent_at = now() from claimed where o.id = claimed.id
  returning o.id::text as id, o.queue, o.name, o.payload, o.meta`;

/** Pause between looks while rows are flowing (the last look found some, but not a full batch). */
const FLOWING_PAUSE_MS = 10;

const jobData = (row: Row): JobData => ({ payload: row.payload, meta: row.meta ?? {} });

/**
 * Adds `rows` to `queue` in one `addBulk` (one MULTI round trip) and checks that Bull reports
 * every job under its row's id. Bull's addBulk ignores errors inside the MULTI's reply: after a
 * MULTI that Redis refused (a full noeviction Redis answers OOM), ioredis believes Bull's script
 * is loaded on the connection while Redis never loaded it, and every later addBulk resolves
 * having added nothing. The rows it skipped are added one by one, which goes through ioredis's
 * NOSCRIPT fallback and loads the script again; a job still missing fails the batch (rollback).
 */
async function addAll(queue: Queue, rows: Row[], logger: Logger): Promise<void> {
  const jobs = await queue.addBulk(
    rows.map((row) => ({ name: row.name, data: jobData(row), opts: { jobId: row.id } })),
  );
  const skipped = rows.filter((row, i) => String(jobs[i]?.id) !== row.id);
  if (skipped.length === 0) return;
  logger.warn(
    { queue: queue.name, skipped: skipped.length },
    'Bull skipped jobs of a bulk add (script not loaded on the connection): adding them one by one',
  );
  const again = await Promise.all(
    skipped.map((row) => queue.add(row.name, jobData(row), { jobId: row.id })),
  );
  const missing = again.filter((job, i) => String(job.id) !== skipped[i]!.id).length;
  if (missing > 0) throw new Error(`Bull did not add ${missing} jobs of the batch`);
}

/**
 * The outbox relay: claims the oldest unsent rows and marks them sent in one statement
 * (`FOR UPDATE SKIP LOCKED`, so relays on several workers take disjoint batches), adds them to
 * Bull in one `addBulk` per queue (one MULTI round trip) with jobId = the row's id, and commits;
 * if Bull does not accept the batch, the rollback leaves the rows unsent. The `sent_at` marking
 * is what stops a row from being relayed twice; the only window is a commit that fails after
 * Bull accepted the batch, and Bull then ignores the second add of a jobId it still holds
 * (completed jobs are kept a day, COMPLETED_RETENTION). While Redis is unreachable nothing is
 * claimed: rows wait in PostgreSQL and flow when it is back.
 */
export function startRelay(
  deps: { orm: MikroORM; logger: Logger; queues: Map<string, Queue> },
  options: RelayOptions,
): Relay {
  const { orm, logger, queues } = deps;
  const known = [...queues.keys()];
  const addTimeoutMs = options.addTimeoutMs ?? 10_000;
  let stopped = false;
  let connected = false;
  const wake = new AbortController();

  const relayOnce = async (): Promise<number> => {
    // Claiming rows while Bull cannot take them would only hold locks and roll back. Before the
    // first connection this is start-up, not an outage: wait quietly.
    for (const queue of queues.values()) {
      if (queue.client.status === 'ready') continue;
      if (!connected) return 0;
      throw new Error('queue Redis is not connected');
    }
    connected = true;
    const em = orm.em.fork();
    return em.transactional(async (tx) => {
      // Claim and mark in one statement: the marking is undone by the rollback if Bull refuses.
      const rows = await tx.execute<Row[]>(CLAIM, [known.join(','), options.batchSize]);
      if (rows.length === 0) return 0;
      // RETURNING follows no order; Bull's waiting list should follow the outbox's.
      rows.sort((a, b) => byId(a.id, b.id));
      const byQueue = new Map<string, Row[]>();
      for (const row of rows) {
        const batch = byQueue.get(row.queue);
        if (batch) batch.push(row);
        else byQueue.set(row.queue, [row]);
      }
      const adds = [...byQueue].map(([name, batch]) => addAll(queues.get(name)!, batch, logger));
      const all = Promise.all(adds);
      // A late rejection after the timeout must not go unhandled.
      all.catch(() => undefined);
      if (!(await settlesWithin(all, addTimeoutMs))) {
        throw new AddTimeout(`Bull did not accept the batch within ${addTimeoutMs} ms`);
      }
      await all;
      return rows.length;
    });
  };

  let lastError = '';
  const loop = (async () => {
    let failures = 0;
    while (!stopped) {
      let sent = 0;
      try {
        sent = await relayOnce();
        if (lastError) logger.info('outbox relay is moving jobs again');
        lastError = '';
        failures = 0;
        if (sent > 0) options.onRelayed?.(sent);
      } catch (err) {
        const message = (err as Error).message;
        if (message !== lastError) {
          logger.warn({ err: message }, 'outbox relay paused: jobs stay in the outbox (retried)');
        }
        lastError = message;
        failures += 1;
      }
      if (stopped) break;
      // A full batch suggests more: go on at once. Rows still coming in (a part batch): look
      // again after a short pause that lets the next batch gather. Nothing: wait pollMs, and
      // longer after failures.
      if (sent < options.batchSize) {
        const ms =
          failures > 0
            ? Math.min(options.pollMs * 2 ** failures, 5_000)
            : sent > 0
              ? Math.min(FLOWING_PAUSE_MS, options.pollMs)
              : options.pollMs;
        await sleep(ms, undefined, { signal: wake.signal }).catch(() => undefined);
      }
    }
  })();

  return {
    relayOnce,
    async stop() {
      stopped = true;
      wake.abort();
      await loop;
    },
  };
}
