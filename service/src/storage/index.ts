/**
 * Object storage for user files: avatars (public) and data exports (private). One interface, two
 * drivers chosen by configuration — S3 (`S3_BUCKET` set, the platform's bucket, credentials from
 * the task role) or a local directory (`STORAGE_DIR`, dev and tests) — used by the API (serving,
 * download links) and the worker (writing results, removing replaced files).
 *
 * Keys are `<area>/<owner>/<file>`. Objects under a public area (`avatars/`) are served to anyone
 * by `GET /media/<key>` (see media.routes.ts), never listed; keys are unique per upload, so they
 * are cached as immutable. Everything else is private and leaves only through `downloadUrl`: a
 * presigned S3 URL, or locally a signed route, both expiring.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Config } from '../config.js';
import { sameSecret } from '../crypto.js';

/** Areas whose objects anyone may read by key (through `GET /media/<key>`). */
export const PUBLIC_AREAS = ['avatars'] as const;
/**
 * Every area a key may start with: `exports` (finished data exports) and `uploads` (originals of
 * avatar uploads, staged until the worker has resized them) are private.
 */
export const AREAS = [...PUBLIC_AREAS, 'exports', 'uploads'] as const;
export type Area = (typeof AREAS)[number];

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Whether `key` is a well-formed object key (`<area>/<segment>[/<segment>…]`, no `..`). */
export function isObjectKey(key: string): boolean {
  const [area, ...rest] = key.split('/');
  return (
    (AREAS as readonly string[]).includes(area ?? '') &&
    rest.length >= 1 &&
    rest.length <= 4 &&
    rest.every((s) => SEGMENT.test(s) && !s.includes('..'))
  );
}

/** Whether an object under `key` may be served to anyone. */
export function isPublicKey(key: string): boolean {
  return isObjectKey(key) && (PUBLIC_AREAS as readonly string[]).includes(key.split('/')[0]!);
}

/** Builds a key, refusing segments that would make it malformed. */
export function objectKey(area: Area, ...segments: (string | number)[]): string {
  const key = [area, ...segments.map(String)].join('/');
  if (!isObjectKey(key)) throw new Error(`malformed object key: ${key}`);
  return key;
}

/** The URL anyone reads a public object at (`GET /media/<key>` of the API at `publicUrl`). */
export function publicObjectUrl(publicUrl: string, key: string): string {
  if (!isPublicKey(key)) throw new Error(`not a public object key: ${key}`);
  return new URL(`/media/${key}`, publicUrl).toString();
}

export interface StoredObject {
  body: Readable;
  contentType: string;
  contentLength?: number;
}

export interface DownloadOptions {
  /** The link stops working after this long. */
  expiresInSeconds: number;
  /** The file name the browser saves it as. */
  filename: string;
}

export interface ObjectStorage {
  readonly driver: 'local' | 's3';
  /** Writes the whole object; a reader sees the previous object or this one, never part of it. */
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  /** The object, or undefined when there is none. */
  get(key: string): Promise<StoredObject | undefined>;
  /** Deletes the objects; keys with no object are ignored (safe to repeat). */
  delete(keys: readonly string[]): Promise<void>;
  /** An absolute URL that downloads the object as an attachment until it expires. */
  downloadUrl(key: string, options: DownloadOptions): Promise<string>;
}

function checkKey(key: string): void {
  if (!isObjectKey(key)) throw new Error(`malformed object key: ${key}`);
}

const CONTENT_TYPES: Record<string, string> = {
  '.webp': 'image/webp',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.json': 'application/json',
  '.gz': 'application/gzip',
  '.zip': 'application/zip',
};

/** A local directory (dev, tests, a single host). Content types follow the key's extension. */
export class LocalStorage implements ObjectStorage {
  readonly driver = 'local';

  constructor(
    private readonly dir: string,
    private readonly signer: DownloadSigner,
  ) {}

  private file(key: string): string {
    checkKey(key);
    return path.join(this.dir, ...key.split('/'));
  }

  async put(key: string, body: Buffer): Promise<void> {
    const file = this.file(key);
    await mkdir(path.dirname(file), { recursive: true });
    // Written beside, then renamed: a crash mid-write leaves a temporary file, never a torn object.
    const partial = `${file}.${process.pid}.${Date.now()}.partial`;
    await writeFile(partial, body);
    await rename(partial, file);
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const file = this.file(key);
    try {
      const { size } = await stat(file);
      return {
        body: createReadStream(file),
        contentType: CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
        contentLength: size,
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((key) => rm(this.file(key), { force: true })));
  }

  async downloadUrl(key: string, options: DownloadOptions): Promise<string> {
    checkKey(key);
    return this.signer.url(key, options);
  }
}

/** An S3 bucket (the platform's `S3_BUCKET`); encryption and lifecycle are the bucket's. */
export class S3Storage implements ObjectStorage {
  readonly driver = 's3';

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    checkKey(key);
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }),
    );
  }

  async get(key: string): Promise<StoredObject | undefined> {
    checkKey(key);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        body: out.Body as Readable,
        contentType: out.ContentType ?? 'application/octet-stream',
        ...(out.ContentLength !== undefined ? { contentLength: out.ContentLength } : {}),
      };
    } catch (err) {
      if (err instanceof NoSuchKey) return undefined;
      throw err;
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    keys.forEach(checkKey);
    // DeleteObjects takes at most 1,000 keys; a missing key counts as deleted.
    for (let i = 0; i < keys.length; i += 1000) {
      const out = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
        }),
      );
      if (out.Errors?.length) {
        const first = out.Errors[0]!;
        throw new Error(
          `S3 could not delete ${out.Errors.length} object(s), e.g. ${first.Key}: ${first.Code}`,
        );
      }
    }
  }

  async downloadUrl(key: string, { expiresInSeconds, filename }: DownloadOptions): Promise<string> {
    checkKey(key);
    return getSignedUrl(
      this.client,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ResponseContentDisposition: contentDisposition(filename),
      }),
      { expiresIn: expiresInSeconds },
    );
  }
}

/** `attachment` with an ASCII fallback name and the exact one in RFC 5987 form. */
export function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

/**
 * Signs and checks the local driver's download links: `/media/download/<key>?expires&filename
 * &signature`, an HMAC-SHA256 over the three with a key derived from JWT_SECRET (so no extra
 * secret to manage; a rotated JWT_SECRET voids outstanding links, which expire soon anyway).
 */
export class DownloadSigner {
  private readonly key: Buffer;

  constructor(
    secret: string,
    private readonly publicUrl: string,
    private readonly now: () => number = Date.now,
  ) {
    this.key = Buffer.from(hkdfSync('sha256', secret, '', 'plinth/storage/download-link', 32));
  }

  private sign(key: string, expires: number, filename: string): string {
    return createHmac('sha256', this.key)
      .update(`${key}\n${expires}\n${filename}`)
      .digest('base64url');
  }

  url(key: string, { expiresInSeconds, filename }: DownloadOptions): string {
    const expires = Math.floor(this.now() / 1000) + expiresInSeconds;
    const query = new URLSearchParams({
      expires: String(expires),
      filename,
      signature: this.sign(key, expires, filename),
    });
    return new URL(`/media/download/${key}?${query}`, this.publicUrl).toString();
  }

  /** `ok`, or why the link does not open. */
  check(
    key: string,
    query: { expires?: unknown; filename?: unknown; signature?: unknown },
  ): 'ok' | 'invalid' | 'expired' {
    const { expires, filename, signature } = query;
    if (typeof expires !== 'string' || typeof filename !== 'string') return 'invalid';
    if (typeof signature !== 'string' || !/^\d{1,12}$/.test(expires)) return 'invalid';
    if (!sameSecret(signature, this.sign(key, Number(expires), filename))) return 'invalid';
    return Number(expires) * 1000 < this.now() ? 'expired' : 'ok';
  }
}

export type StorageConfig = Pick<Config, 'S3_BUCKET' | 'STORAGE_DIR' | 'JWT_SECRET' | 'PUBLIC_URL'>;

/** The storage the configuration names, and the signer of local download links. */
export function createStorage(
  config: StorageConfig,
  s3: () => S3Client = () => new S3Client({}),
): { storage: ObjectStorage; signer: DownloadSigner } {
  const signer = new DownloadSigner(config.JWT_SECRET, config.PUBLIC_URL);
  const storage = config.S3_BUCKET
    ? new S3Storage(s3(), config.S3_BUCKET)
    : new LocalStorage(path.resolve(config.STORAGE_DIR), signer);
  return { storage, signer };
}
