import type { EntityManager } from '@mikro-orm/postgresql';
import { validatePayload, type JobMeta, type JobRequest } from './contracts.js';
import { traceMeta } from './trace-context.js';

/**
 * One statement for any number of rows: the rows travel as a single JSON parameter and
 * `jsonb_to_recordset` unpacks them, so the SQL text never changes with the batch size.
 */
const INSERT_ROWS = `insert into outbox (queue, name, payload, meta, created_at)
  select r.queue, r.name, r.payload, r.meta, now()
  from jsonb_to_recordset(?::jsonb) as r(queue text, name text, payload jsonb, meta jsonb)
  returning id::text as id`;

/**
 * Writes `requests` as outbox rows in `em`'s open transaction, committed (or rolled back)
 * together with the data they belong to: a request that rolls back enqueues nothing, and a
 * committed one is delivered even if Redis is down now (the worker's relay moves it to Bull
 * when Redis answers). One multi-row INSERT on the transaction's connection, not entities in
 * the unit of work: a producer writing many jobs pays one round trip and no change-set work.
 * Payloads are checked against their contracts first, so a producer bug fails the request
 * instead of a job later. `meta`: string headers for every job (request id); the active trace
 * context (`traceparent`) is added, so the job continues the request's trace. Resolves with
 * the rows' ids (their Bull jobIds), in the order of `requests`.
 */
export async function enqueue(
  em: EntityManager,
  requests: JobRequest | readonly JobRequest[],
  meta: JobMeta = {},
): Promise<string[]> {
  // Outside a transaction the INSERT would commit on its own, apart from the data.
  if (!em.isInTransaction()) {
    throw new Error(
      'enqueue() writes in the caller transaction: call it inside em.transactional()',
    );
  }
  const list: readonly JobRequest[] = Array.isArray(requests) ? requests : [requests as JobRequest];
  if (list.length === 0) return [];
  const headers = { ...traceMeta(), ...meta };
  const rows = list.map((request) => ({
    queue: request.contract.queue,
    name: request.contract.name,
    payload: validatePayload(request.contract, request.payload),
    meta: headers,
  }));
  const inserted = await em.execute<{ id: string }[]>(INSERT_ROWS, [JSON.stringify(rows)]);
  // Rows come back in the order jsonb_to_recordset produced them, which is the array's order;
  // bigserial ids are drawn in that order too, so sorting by id guarantees it.
  return inserted.map((r) => r.id).sort(byId);
}

/** Numeric order of bigint ids given as decimal strings. */
export function byId(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
