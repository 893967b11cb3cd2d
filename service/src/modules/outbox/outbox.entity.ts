import { defineEntity, p } from '@mikro-orm/core';

/**
 * A job written by a request in the same transaction as its data (the transactional outbox).
 * The worker's relay moves unsent rows to Bull with jobId = `id` and sets `sentAt` in the
 * transaction that claimed them; sent rows are purged after OUTBOX_RETENTION_DAYS.
 */
export const OutboxSchema = defineEntity({
  name: 'Outbox',
  tableName: 'outbox',
  properties: {
    /** Also the Bull jobId, so a relay that runs twice adds the same job, not a second one. */
    id: p.bigint('string').primary().autoincrement(),
    queue: p.string().length(64),
    /** The job type (contract name). */
    name: p.string().length(64),
    payload: p.json<unknown>(),
    /** Cross-cutting string headers (request id, trace context) carried into the Bull job. */
    meta: p.json<Record<string, string>>().default('{}'),
    createdAt: p.datetime().onCreate(() => new Date()),
    /** When the relay handed it to Bull; null while it waits. */
    sentAt: p.datetime().nullable(),
  },
  indexes: [
    // The relay's claim: the oldest unsent rows, without scanning the sent ones.
    { name: 'outbox_unsent_idx', properties: ['id'], where: 'sent_at is null' },
    // The purge: sent rows by age.
    { name: 'outbox_sent_at_idx', properties: ['sentAt'], where: 'sent_at is not null' },
  ],
});

export class Outbox extends OutboxSchema.class {}
OutboxSchema.setClass(Outbox);
