import { z } from 'zod';
import { AVATAR_UPLOAD_STATUSES } from './avatar-upload.entity.js';

/** The form field of `PUT /api/user/avatar` that carries the image file. */
export const AVATAR_FIELD = 'image';

export const AvatarUploadParams = z.strictObject({
  uploadId: z.uuid('must be an upload id (a UUID)'),
});

export const AvatarUpload = z
  .object({
    id: z.uuid(),
    status: z.enum(AVATAR_UPLOAD_STATUSES).meta({
      description:
        'pending: stored, waiting to be resized; done: `image` is the user’s avatar now; failed: see `error`',
    }),
    contentType: z.string().meta({ description: 'The type the file’s bytes showed' }),
    width: z.int(),
    height: z.int(),
    createdAt: z.iso.datetime(),
    completedAt: z.iso.datetime().nullable(),
    image: z
      .string()
      .nullable()
      .meta({ description: 'URL of the largest size (the user’s `image`), once done' }),
    sizes: z
      .record(z.string(), z.string())
      .meta({ description: 'Size in pixels → URL of that square WebP, once done' }),
    error: z.string().nullable().meta({ description: 'Why processing failed' }),
  })
  .meta({ id: 'AvatarUpload' });

export const AvatarUploadResponse = z
  .object({ avatarUpload: AvatarUpload })
  .meta({ id: 'AvatarUploadResponse' });

export type AvatarUploadDto = z.infer<typeof AvatarUpload>;
