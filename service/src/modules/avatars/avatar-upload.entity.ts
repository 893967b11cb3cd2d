import { defineEntity, p } from '@mikro-orm/core';
import { User } from '../users/user.entity.js';

export const AVATAR_UPLOAD_STATUSES = ['pending', 'done', 'failed'] as const;
export type AvatarUploadStatus = (typeof AVATAR_UPLOAD_STATUSES)[number];

/**
 * One avatar upload: created `pending` with its outbox job in one transaction (the original is
 * already staged under `uploads/`); the worker's `avatar-resize` job makes it `done` (its sizes
 * stored, the user's `image` pointing at them) or `failed`. A done upload that a newer one
 * replaced is `superseded`; its files are removed after that commit (`filesRemovedAt`).
 */
export const AvatarUploadSchema = defineEntity({
  name: 'AvatarUpload',
  tableName: 'avatar_uploads',
  properties: {
    /** Random, and part of every key of the upload's files (unique per upload: immutable caching). */
    id: p.uuid().primary(),
    user: () =>
      p
        .manyToOne(User)
        .deleteRule('cascade')
        .foreignKeyName('avatar_uploads_user_id_foreign')
        .index('avatar_uploads_user_idx'),
    status: p.enum(AVATAR_UPLOAD_STATUSES).default('pending'),
    /** The type the magic bytes showed (`image/png`…), not the one the client declared. */
    contentType: p.string().length(32),
    /** Dimensions from the file's header. */
    width: p.integer(),
    height: p.integer(),
    bytes: p.integer(),
    /** The staged original (`uploads/<userId>/<id>.<ext>`), removed once the upload is done. */
    originalKey: p.string().length(255),
    /** The resized files' keys, by size in pixels; set when done. */
    keys: p.json<Record<string, string>>().nullable(),
    /** Why processing failed (an image the decoder refused). */
    error: p.string().length(500).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    completedAt: p.datetime().nullable(),
    /** When a newer upload replaced this one as the user's avatar. */
    supersededAt: p.datetime().nullable(),
    /** When this upload's resized files were removed (after it was superseded). */
    filesRemovedAt: p.datetime().nullable(),
  },
});

export class AvatarUpload extends AvatarUploadSchema.class {}
AvatarUploadSchema.setClass(AvatarUpload);
