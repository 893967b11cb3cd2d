import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../../errors.js';
import { AVATAR_RESIZE, jobRequest } from '../../jobs/contracts.js';
import { objectKey, publicObjectUrl, type ObjectStorage } from '../../storage/index.js';
import { asAccount } from '../auth/abilities.js';
import { FeatureService } from '../feature-service.js';
import { AvatarUpload } from './avatar-upload.entity.js';
import type { AvatarUploadDto } from './avatars.schemas.js';
import { inspectImage } from './image-check.js';

export interface AvatarsDeps {
  storage: ObjectStorage;
  /** Largest file accepted (AVATAR_MAX_BYTES). */
  maxBytes: number;
  /** Most pixels an image may declare (AVATAR_MAX_PIXELS). */
  maxPixels: number;
  /** Where `/media/<key>` is served (PUBLIC_URL). */
  publicUrl: string;
}

/** Reads the request's one file, refusing more than `maxBytes` (the transport's part). */
export type FileReader = (maxBytes: number) => Promise<{ bytes: Buffer }>;

/**
 * Avatar uploads: the original is checked (type by magic bytes, header dimensions, a complete
 * container), staged under `uploads/`, and recorded as a pending upload with its resize job in
 * one transaction; the worker does the rest (AVATAR_RESIZE in jobs/contracts.ts).
 */
export class AvatarsService extends FeatureService<AvatarsDeps> {
  async upload(read: FileReader): Promise<AvatarUploadDto> {
    const user = this.user;
    // Before the body is read: a refused or frozen write costs no upload.
    this.authorize('update', asAccount({ id: user.id }));
    const { bytes } = await read(this.deps.maxBytes);
    const { type, width, height } = await inspectImage(bytes, this.deps.maxPixels);
    const id = randomUUID();
    const originalKey = objectKey('uploads', user.id, `${id}.${type.ext}`);
    await this.deps.storage.put(originalKey, bytes, type.contentType);
    try {
      const upload = await this.em.transactional(async (em) => {
        const created = em.create(AvatarUpload, {
          id,
          user: user.id,
          contentType: type.contentType,
          width,
          height,
          bytes: bytes.length,
          originalKey,
        });
        await this.enqueue(em, jobRequest(AVATAR_RESIZE, { uploadId: id }));
        return created;
      });
      return this.toDto(upload);
    } catch (err) {
      // Nothing refers to the staged file: it goes with the failed request.
      await this.deps.storage.delete([originalKey]).catch(() => undefined);
      throw err;
    }
  }

  /** One of the acting user's uploads; 404 for anyone else's. */
  async get(id: string): Promise<AvatarUploadDto> {
    const upload = await this.em.findOne(AvatarUpload, { id, user: this.user.id });
    if (!upload) throw new NotFoundError('avatarUpload');
    return this.toDto(upload);
  }

  private toDto(upload: AvatarUpload): AvatarUploadDto {
    const sizes = Object.fromEntries(
      Object.entries(upload.keys ?? {}).map(([size, key]) => [
        size,
        publicObjectUrl(this.deps.publicUrl, key),
      ]),
    );
    const largest = Object.keys(sizes).sort((a, b) => Number(b) - Number(a))[0];
    return {
      id: upload.id,
      status: upload.status,
      contentType: upload.contentType,
      width: upload.width,
      height: upload.height,
      createdAt: upload.createdAt.toISOString(),
      completedAt: upload.completedAt?.toISOString() ?? null,
      image: largest ? sizes[largest]! : null,
      sizes,
      error: upload.error ?? null,
    };
  }
}
