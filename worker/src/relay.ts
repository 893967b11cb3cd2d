import { setTimeout as sleep } from 'node:timers/promises';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { JobData } from '../../service/src/jobs/contracts.js';
import type { Queue } from '../../service/src/jobs/queue.js';
import type { Logger } from '../../service/src/logger.js';
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
 * The outbox relay: claims the oldest unsent rows (`FOR UPDATE SKIP LOCKED`, so relays on several
 * workers take disjoint batches), adds them to Bull in one `addBulk` per queue with jobId = the
 * row's id, then marks them sent in the same transaction. The `sent_at` marking is what stops a
 * row from being relayed twice; the only window is a commit that fails after Bull accepted the
 * batch, and Bull then ignores the second add of a jobId it still holds (completed jobs are kept
 * a day, COMPLETED_RETENTION). While Redis is unreachable nothing is claimed: rows wait in
 * PostgreSQL and flow when it is back.
 */
export function startRelay(
  deps: { orm: MikroORM; logger: Logger; queues: Map<string, Queue> },
  options: RelayOptions,
): Relay {
  const { orm, logger, queues } = deps;
  const known = [...queues.keys()];
  const addTimeoutMs = options.addTimeoutMs ?? 10_000;
  let stopped = false;
  const wake = new AbortController();

  const relayOnce = async (): Promise<number> => {
    // Claiming rows while Bull cannot take them would only hold locks and roll back.
    for (const queue of queues.values()) {
      if (queue.client.status !== 'ready') throw new Error('queue Redis is not connected');
    }
    const em = orm.em.fork();
    return em.transactional(async (tx) => {
      const rows = await tx.execute<Row[]>(
        `select id::text as id, queue, name, payload, meta from outbox
         where sent_at is null and queue = any(string_to_array(?, ','))
         order by id limit ? for update skip locked`,
        [known.join(','), options.batchSize],
      );
      if (rows.length === 0) return 0;
      const byQueue = new Map<string, Row[]>();
      for (const row of rows) byQueue.set(row.queue, [...(byQueue.get(row.queue) ?? []), row]);
      const adds = [...byQueue].map(([name, batch]) =>
        queues.get(name)!.addBulk(
          batch.map((row) => ({
            name: row.name,
            data: { payload: row.payload, meta: row.meta ?? {} } satisfies JobData,
            opts: { jobId: row.id },
          })),
        ),
      );
      const all = Promise.all(adds);
      // A late rejection after the timeout must not go unhandled.
      all.catch(() => undefined);
      if (!(await settlesWithin(all, addTimeoutMs))) {
        throw new AddTimeout(`Bull did not accept the batch within ${addTimeoutMs} ms`);
      }
      await all;
      await tx.execute(
        `update outbox set sent_at = now()
         where id = any(string_to_array(?, ',')::bigint[])`,
        [rows.map((r) => r.id).join(',')],
      );
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
      // A full batch suggests more: go on at once. Otherwise wait, longer after failures.
      if (sent < options.batchSize) {
        const ms = failures > 0 ? Math.min(options.pollMs * 2 ** failures, 5_000) : options.pollMs;
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
