import { defineEntity, p } from '@mikro-orm/core';
import { User } from '../users/user.entity.js';

export const EXPORT_STATUSES = ['queued', 'running', 'done', 'failed'] as const;
export type ExportStatus = (typeof EXPORT_STATUSES)[number];

/**
 * A user's request for a copy of their data (issue 13). Written with its `build-export` outbox
 * job in one transaction; the worker moves it queued → running → done (or failed), writing
 * `progress` as it goes and the file to `objectKey` (private storage area `exports/`). Done
 * exports and their files are deleted after EXPORT_RETENTION_DAYS (`expiresAt`).
 */
export const DataExportSchema = defineEntity({
  name: 'DataExport',
  tableName: 'data_exports',
  properties: {
    /** Random (UUID v4): the id appears in URLs and object keys, so it must not be guessable. */
    id: p.uuid().primary(),
    user: () =>
      p.manyToOne(User).deleteRule('cascade').foreignKeyName('data_exports_user_id_foreign'),
    status: p.enum(EXPORT_STATUSES).default('queued'),
    /** 0–100, written by the worker after every page of rows. */
    progress: p.smallint().default(0),
    /** Why it failed, in words a user may read (never a stack or SQL). */
    error: p.string().length(500).nullable(),
    /** `exports/<userId>/<id>.json.gz` once done. */
    objectKey: p.string().length(255).nullable(),
    sizeBytes: p.bigint('number').nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    finishedAt: p.datetime().nullable(),
    /** When the file and this row are deleted (set when done). */
    expiresAt: p.datetime().nullable(),
  },
  indexes: [
    // The user's list (newest first) and their daily quota.
    { name: 'data_exports_user_created_at_idx', properties: ['user', 'createdAt'] },
    // The retention purge.
    {
      name: 'data_exports_expires_at_idx',
      properties: ['expiresAt'],
      where: 'expires_at is not null',
    },
  ],
  uniques: [
    // At most one export in flight per user, whatever the race between two requests.
    {
      name: 'data_exports_one_in_flight_unique',
      properties: ['user'],
      where: "status in ('queued', 'running')",
    },
  ],
});

export class DataExport extends DataExportSchema.class {}
DataExportSchema.setClass(DataExport);
