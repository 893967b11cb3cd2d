import { buffer } from 'node:stream/consumers';
import type { EntityManager } from '@mikro-orm/postgresql';
import sharp from 'sharp';
import { AVATAR_RESIZE, AVATAR_SIZES } from '../../../service/src/jobs/contracts.js';
import type { Job } from '../../../service/src/jobs/queue.js';
import { AvatarUpload } from '../../../service/src/modules/avatars/avatar-upload.entity.js';
import { objectKey, publicObjectUrl } from '../../../service/src/storage/index.js';
import { parsePayload } from '../errors.js';
import type { ProcessorDeps } from './types.js';

/** What an avatar job reports (visible in Bull and the admin API). */
export type AvatarResult =
  | { status: 'done'; image: string; applied: boolean }
  | { status: 'already-done' | 'already-failed' | 'gone' }
  | { status: 'failed'; reason: string };

interface UploadRow {
  user_id: number;
  status: 'pending' | 'done' | 'failed';
  original_key: string;
}

/** WebP quality of every size: small files, no visible loss at avatar sizes. */
const WEBP_QUALITY = 82;

/**
 * The square sizes of `original`, largest first, as WebP: decoded once (EXIF orientation
 * applied, first frame of an animation, refusing more than `maxPixels` and corrupt data), cropped
 * to a centred square of the largest size, from which the smaller ones are made. Deterministic:
 * the same input gives the same bytes, so a rerun rewrites identical objects.
 */
export async function resizeAvatar(
  original: Buffer,
  maxPixels: number,
): Promise<{ size: number; webp: Buffer }[]> {
  const sizes = [...AVATAR_SIZES].sort((a, b) => b - a);
  const largest = sizes[0]!;
  const { data, info } = await sharp(original, { limitInputPixels: maxPixels, failOn: 'error' })
    .rotate()
    .resize(largest, largest, { fit: 'cover' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { width: info.width, height: info.height, channels: info.channels };
  return Promise.all(
    sizes.map(async (size) => ({
      size,
      webp: await sharp(data, { raw })
        .resize(size, size)
        .webp({ quality: WEBP_QUALITY })
        .toBuffer(),
    })),
  );
}

/** The keys of an upload's sizes: unique per upload, the same on every run. */
export function avatarKeys(userId: number, uploadId: string): Record<string, string> {
  return Object.fromEntries(
    AVATAR_SIZES.map((size) => [
      String(size),
      objectKey('avatars', userId, `${uploadId}-${size}.webp`),
    ]),
  );
}

/**
 * Removes what no avatar needs any more, after the commit that made it so: the files of the
 * user's superseded uploads (then marks them removed) and this upload's staged original. Every
 * step is safe to repeat, so a rerun after a crash here finishes the job.
 */
async function removeReplaced(
  deps: ProcessorDeps,
  em: EntityManager,
  userId: number,
  originalKey: string,
): Promise<number> {
  const replaced = await em.execute<{ id: string; keys: Record<string, string> | null }[]>(
    `select id, keys from avatar_uploads
     where user_id = ? and superseded_at is not null and files_removed_at is null`,
    [userId],
  );
  const keys = replaced.flatMap((r) => Object.values(r.keys ?? {}));
  await deps.storage.delete([...keys, originalKey]);
  if (replaced.length > 0) {
    await em.nativeUpdate(
      AvatarUpload,
      { id: { $in: replaced.map((r) => r.id) } },
      { filesRemovedAt: new Date() },
    );
  }
  return keys.length;
}

/** Records a final failure and removes everything the upload stored. */
async function fail(
  deps: ProcessorDeps,
  em: EntityManager,
  uploadId: string,
  keys: string[],
  reason: string,
): Promise<AvatarResult> {
  await em.execute(
    `update avatar_uploads set status = 'failed', error = ?, completed_at = now()
     where id = ? and status = 'pending'`,
    [reason.slice(0, 500), uploadId],
    'run',
  );
  await deps.storage.delete(keys);
  return { status: 'failed', reason };
}

/** Resizes an uploaded avatar and makes it the user's image (AVATAR_RESIZE declares the semantics). */
export function avatarResizeProcessor(deps: ProcessorDeps) {
  return async (job: Job): Promise<AvatarResult> => {
    const { uploadId } = parsePayload(job, AVATAR_RESIZE);
    const em = deps.orm.em.fork();
    const [upload] = await em.execute<UploadRow[]>(
      'select user_id, status, original_key from avatar_uploads where id = ?',
      [uploadId],
    );
    // The user (and with them the upload) was deleted.
    if (!upload) return { status: 'gone' };
    const userId = upload.user_id;
    if (upload.status === 'failed') return { status: 'already-failed' };
    if (upload.status === 'done') {
      // Committed before: only the removals may be unfinished (a crash after the commit).
      await removeReplaced(deps, em, userId, upload.original_key);
      return { status: 'already-done' };
    }
    const keys = avatarKeys(userId, uploadId);
    const written = [...Object.values(keys), upload.original_key];

    await deps.probe?.('before-store', job);
    const original = await deps.storage.get(upload.original_key);
    if (!original) {
      return fail(deps, em, uploadId, written, 'the uploaded file is missing from storage');
    }
    let sizes: { size: number; webp: Buffer }[];
    try {
      sizes = await resizeAvatar(await buffer(original.body), deps.config.AVATAR_MAX_PIXELS);
    } catch (err) {
      // libvips refused the image (corrupt data, over the pixel limit): no retry can fix it.
      return fail(
        deps,
        em,
        uploadId,
        written,
        `the image could not be decoded: ${(err as Error).message}`,
      );
    }
    for (const { size, webp } of sizes) await deps.storage.put(keys[size]!, webp, 'image/webp');
    await deps.probe?.('after-store', job);

    const image = publicObjectUrl(deps.config.PUBLIC_URL, keys[Math.max(...AVATAR_SIZES)]!);
    // Profiles, articles and comments show the author's image: their cached reads go stale.
    const applied = await deps.cache.write(['users', 'lists'], () =>
      em.transactional(async (tx) => {
        // One user's uploads commit one after another; the newest upload wins, whatever order
        // their jobs finish in.
        await tx.execute('select id from users where id = ? for update', [userId]);
        const [row] = await tx.execute<{ status: string; created_at: Date }[]>(
          'select status, created_at from avatar_uploads where id = ? for update',
          [uploadId],
        );
        if (!row || row.status !== 'pending') return undefined;
        const [newer] = await tx.execute(
          `select 1 from avatar_uploads
           where user_id = ? and status = 'done' and superseded_at is null and id <> ?
             and created_at > ?`,
          [userId, uploadId, row.created_at],
        );
        if (newer) {
          await tx.execute(
            `update avatar_uploads set status = 'done', keys = ?, completed_at = now(),
               superseded_at = now() where id = ?`,
            [JSON.stringify(keys), uploadId],
            'run',
          );
          return false;
        }
        await tx.execute(
          `update avatar_uploads set superseded_at = now()
           where user_id = ? and status = 'done' and superseded_at is null and id <> ?`,
          [userId, uploadId],
          'run',
        );
        await tx.execute(
          `update avatar_uploads set status = 'done', keys = ?, completed_at = now() where id = ?`,
          [JSON.stringify(keys), uploadId],
          'run',
        );
        await tx.execute(
          'update users set image = ?, updated_at = now() where id = ?',
          [image, userId],
          'run',
        );
        return true;
      }),
    );
    if (applied === undefined) return { status: 'already-done' };
    await deps.probe?.('after-update', job);
    const removed = await removeReplaced(deps, em, userId, upload.original_key);
    deps.logger.info({ jobId: job.id, uploadId, userId, applied, removed }, 'avatar resized');
    return { status: 'done', image, applied };
  };
}
