import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import Koa from 'koa';
import { errorHandler } from '../../src/http/error-handler.js';
import type { AppState } from '../../src/http/state.js';
import {
  DownloadSigner,
  isObjectKey,
  LocalStorage,
  objectKey,
  type ObjectStorage,
  S3Storage,
} from '../../src/storage/index.js';
import { mediaRouter } from '../../src/storage/media.routes.js';

const SECRET = 'a-storage-test-secret-of-at-least-32-chars';

describe('object keys', () => {
  it.each(['avatars/1/a.webp', 'exports/42/2026-11-30.json.gz', 'avatars/7/x_y-z.webp'])(
    'accepts %s',
    (key) => expect(isObjectKey(key)).toBe(true),
  );
  it.each([
    'avatars',
    'avatars/',
    'avatars/../exports/1/x',
    'avatars/1/..',
    'other/1/x',
    '/avatars/1/x',
    'avatars/1//x',
    'avatars/1/.hidden',
    'avatars/1/a b',
  ])('refuses %s', (key) => expect(isObjectKey(key)).toBe(false));
  it('objectKey refuses a malformed segment', () => {
    expect(() => objectKey('avatars', 1, '../x')).toThrow(/malformed/);
  });
});

describe('local storage behind the media routes', () => {
  let dir: string;
  let server: Server;
  let base: string;
  let storage: ObjectStorage;
  let clock = Date.now();
  const signer = () => new DownloadSigner(SECRET, base, () => clock);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'plinth-storage-'));
    const app = new Koa<AppState>();
    app.use(errorHandler());
    server = createServer((req, res) => app.callback()(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    storage = new LocalStorage(dir, signer());
    app.use(mediaRouter({ storage, signer: signer() }).routes());
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('stores, replaces and deletes whole objects, leaving no partial files', async () => {
    await storage.put('avatars/1/a.webp', Buffer.from('first'), 'image/webp');
    await storage.put('avatars/1/a.webp', Buffer.from('second'), 'image/webp');
    const object = await storage.get('avatars/1/a.webp');
    expect(object?.contentType).toBe('image/webp');
    expect(object?.contentLength).toBe(6);
    expect(await text(object!.body)).toBe('second');
    expect(await readdir(path.join(dir, 'avatars', '1'))).toEqual(['a.webp']);
    await storage.delete(['avatars/1/a.webp', 'avatars/1/never-there.webp']);
    expect(await storage.get('avatars/1/a.webp')).toBeUndefined();
  });

  it('refuses malformed keys before touching the disk', async () => {
    await expect(storage.put('avatars/../../etc/x', Buffer.from('x'), 'x')).rejects.toThrow(
      /malformed/,
    );
    await expect(storage.get('exports/1/../../x')).rejects.toThrow(/malformed/);
  });

  it('serves public objects as immutable and hides private ones', async () => {
    await storage.put('avatars/2/b.webp', Buffer.from('image bytes'), 'image/webp');
    await storage.put('exports/2/e.json', Buffer.from('{"secret":true}'), 'application/json');

    const avatar = await fetch(`${base}/media/avatars/2/b.webp`);
    expect(avatar.status).toBe(200);
    expect(avatar.headers.get('content-type')).toBe('image/webp');
    expect(avatar.headers.get('cache-control')).toContain('immutable');
    expect(await avatar.text()).toBe('image bytes');

    const hidden = await fetch(`${base}/media/exports/2/e.json`);
    expect(hidden.status).toBe(404);
    expect(await hidden.json()).toEqual({ errors: { file: ['not found'] } });
    expect((await fetch(`${base}/media/avatars/2/missing.webp`)).status).toBe(404);
    expect((await fetch(`${base}/media/avatars/2/%2e%2e/x`)).status).toBe(404);
  });

  it('downloads a private object through a signed link until it expires', async () => {
    await storage.put('exports/3/data.json', Buffer.from('{"mine":1}'), 'application/json');
    clock = Date.now();
    const url = await storage.downloadUrl('exports/3/data.json', {
      expiresInSeconds: 60,
      filename: 'plinth-export.json',
    });
    expect(url.startsWith(`${base}/media/download/exports/3/data.json?`)).toBe(true);

    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-disposition')).toContain('filename="plinth-export.json"');
    expect(ok.headers.get('cache-control')).toBe('private, no-store');
    expect(await ok.text()).toBe('{"mine":1}');

    const tampered = new URL(url);
    tampered.searchParams.set('filename', 'other.json');
    expect((await fetch(tampered)).status).toBe(403);
    const otherKey = url.replace('exports/3/data.json', 'exports/4/data.json');
    const refused = await fetch(otherKey);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ errors: { link: ['is not a valid download link'] } });

    clock += 61_000;
    const expired = await fetch(url);
    expect(expired.status).toBe(403);
    expect(await expired.json()).toEqual({
      errors: { link: ['has expired; request a new download link'] },
    });
    clock = Date.now();
  });
});

// S3 is a true external edge (no S3 runs here): the SDK's client is mocked at `send`.
describe('S3 storage', () => {
  const s3 = mockClient(S3Client);
  const client = new S3Client({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIAEXAMPLEEXAMPLE00', secretAccessKey: 'example-secret' },
  });
  const storage = new S3Storage(client, 'plinth-uploads');
  beforeEach(() => {
    s3.reset();
  });
  afterAll(() => s3.restore());

  it('puts with the content type, and reads a missing key as absent', async () => {
    s3.on(PutObjectCommand).resolves({});
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: {} }));
    await storage.put('avatars/1/a.webp', Buffer.from('x'), 'image/webp');
    expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input).toMatchObject({
      Bucket: 'plinth-uploads',
      Key: 'avatars/1/a.webp',
      ContentType: 'image/webp',
    });
    expect(await storage.get('avatars/1/a.webp')).toBeUndefined();
  });

  it('deletes in batches of 1,000 and reports keys S3 could not delete', async () => {
    s3.on(DeleteObjectsCommand).resolves({});
    const keys = Array.from({ length: 2500 }, (_, i) => `avatars/9/${i}.webp`);
    await storage.delete(keys);
    const calls = s3.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => c.Delete!.Objects!.length)).toEqual([1000, 1000, 500]);
    expect(calls.flatMap((c) => c.Delete!.Objects!.map((o) => o.Key))).toEqual(keys);

    s3.on(DeleteObjectsCommand).resolves({
      Errors: [{ Key: 'avatars/9/1.webp', Code: 'AccessDenied' }],
    });
    await expect(storage.delete(['avatars/9/1.webp'])).rejects.toThrow(/AccessDenied/);
  });

  it('signs expiring download links that save under the given name', async () => {
    const url = new URL(
      await storage.downloadUrl('exports/5/data.json.gz', {
        expiresInSeconds: 900,
        filename: 'plinth export.json.gz',
      }),
    );
    expect(url.hostname).toBe('plinth-uploads.s3.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe('/exports/5/data.json.gz');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(url.searchParams.get('response-content-disposition')).toContain(
      "filename*=UTF-8''plinth%20export.json.gz",
    );
    expect(s3.calls()).toHaveLength(0);
  });
});
