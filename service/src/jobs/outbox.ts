import type { EntityManager } from '@mikro-orm/postgresql';
import { Outbox } from '../modules/outbox/outbox.entity.js';
import { validatePayload, type JobMeta, type JobRequest } from './contracts.js';
import { traceMeta } from './trace-context.js';

/**
 * Writes `request` as an outbox row through `em`, to be committed by the caller's flush or
 * transaction together with the data it belongs to: a request that rolls back enqueues nothing,
 * and a committed one is delivered even if Redis is down now (the worker's relay moves it to
 * Bull when Redis answers). The payload is checked against its contract here, so a producer bug
 * fails the request instead of a job later. `meta`: string headers for the job (request id);
 * the active trace context (`traceparent`) is added, so the job continues the request's trace.
 */
export function enqueue(em: EntityManager, request: JobRequest, meta: JobMeta = {}): Outbox {
  const payload = validatePayload(request.contract, request.payload);
  return em.create(Outbox, {
    queue: request.contract.queue,
    name: request.contract.name,
    payload,
    meta: { ...traceMeta(), ...meta },
  });
}
