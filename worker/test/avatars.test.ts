// Avatar uploads end to end against real PostgreSQL, Redis and a local storage directory:
// PUT /api/user/avatar → outbox → relay → Bull → the resize processor → the user's image is the
// new 256 px WebP, every size is served by GET /media/<key> with its dimensions, the replaced
// avatar's files and the staged original are gone, and cached profile reads show the new image.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import sharp from 'sharp';
import { AVATAR_SIZES, IMAGES_QUEUE } from '../../service/src/jobs/contracts.js';
import type { Account } from '../../service/test/support/client.js';
import { form, pngDeclaring, sampleImage, tempStorage } from '../../service/test/support/images.js';
import { startTestServer, type TestServer } from '../../service/test/support/server.js';
import { until } from '../../service/test/support/wait.js';
import { startWorker, type RunningWorker } from '../src/worker.js';
import { silentLogger, closeJobsTest } from './support/queues.js';

jest.setTimeout(60_000);

let server: TestServer;
let worker: RunningWorker;
let storage: Awaited<ReturnType<typeof tempStorage>>;

beforeAll(async () => {
  storage = await tempStorage();
  server = await startTestServer({
    STORAGE_DIR: storage.dir,
    OUTBOX_POLL_MS: '50',
    CACHE_ENABLED: 'true',
  });
  worker = await startWorker(
    { config: server.config, orm: server.orm, logger: silentLogger() },
    { concurrency: 2 },
  );
}, 60_000);

afterAll(() => closeJobsTest({ worker, server, storage }));

interface Upload {
  id: string;
  status: string;
  image: string | null;
  sizes: Record<string, string>;
  error: string | null;
}

/** Uploads `bytes` as `account` and waits until the worker finished with it. */
async function uploadAndWait(account: Account, bytes: Buffer): Promise<Upload> {
  const res = await server.api.put('/user/avatar', {
    token: account.token,
    raw: form([{ bytes }]),
  });
  expect(res.status).toBe(202);
  let upload: Upload = res.body.avatarUpload;
  await until(async () => {
    const status = await server.api.get(`/user/avatar/${upload.id}`, { token: account.token });
    upload = status.body.avatarUpload;
    return upload.status !== 'pending';
  }, 30_000);
  return upload;
}

const keyOf = (url: string) => new URL(url).pathname.replace(/^\/media\//, '');

/** GET /media/<key> of a public URL the API returned. */
async function fetchMedia(url: string) {
  const res = await fetch(`${server.baseUrl}${new URL(url).pathname}`);
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    bytes: Buffer.from(await res.arrayBuffer()),
  };
}

describe('an avatar upload, processed by the worker', () => {
  it('when a user uploads twice, then their image is the newest 256 px WebP and only its files remain', async () => {
    const account = await server.api.register('pic');
    const [{ id: userId }] = (await server.sql<{ id: number }>(
      'select id from users where username = ?',
      [account.username],
    )) as [{ id: number }];
    // A cached profile read before the change, so the test sees the invalidation.
    await server.api.get(`/profiles/${account.username}`);

    const first = await uploadAndWait(account, await sampleImage('png', 300, 200));
    expect(first.status).toBe('done');
    expect(
      Object.keys(first.sizes)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual([...AVATAR_SIZES]);
    expect(first.image).toBe(first.sizes['256']);
    expect(first.image).toBe(
      `${server.config.PUBLIC_URL}/media/avatars/${userId}/${first.id}-256.webp`,
    );
    for (const [size, url] of Object.entries(first.sizes)) {
      const media = await fetchMedia(url);
      expect(media.status).toBe(200);
      expect(media.type).toBe('image/webp');
      const meta = await sharp(media.bytes).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['webp', Number(size), Number(size)]);
    }
    expect((await server.api.get('/user', { token: account.token })).body.user.image).toBe(
      first.image,
    );
    expect((await server.api.get(`/profiles/${account.username}`)).body.profile.image).toBe(
      first.image,
    );

    const second = await uploadAndWait(account, await sampleImage('jpeg', 90, 160));
    expect(second.status).toBe('done');
    expect((await server.api.get(`/profiles/${account.username}`)).body.profile.image).toBe(
      second.image,
    );
    // The first avatar's files are gone, from storage and from /media; no staged original remains.
    await until(
      async () => (await storage.files()).filter((f) => f.includes(`/${userId}/`)).length === 3,
    );
    expect((await storage.files()).filter((f) => f.includes(`/${userId}/`))).toEqual(
      Object.values(second.sizes).map(keyOf).sort(),
    );
    for (const url of Object.values(first.sizes)) expect((await fetchMedia(url)).status).toBe(404);
    const rows = await server.sql(
      `select id::text as id, status, superseded_at is not null as superseded,
         files_removed_at is not null as removed
       from avatar_uploads where user_id = ? order by created_at`,
      [userId],
    );
    expect(rows).toEqual([
      { id: first.id, status: 'done', superseded: true, removed: true },
      { id: second.id, status: 'done', superseded: false, removed: false },
    ]);
    // Both jobs completed the first time: no retry hid a failure.
    const images = worker.queue(IMAGES_QUEUE);
    expect(await images.getJobCounts()).toMatchObject({ failed: 0, delayed: 0 });
    const meta = await sharp((await fetchMedia(second.image!)).bytes).metadata();
    expect([meta.width, meta.height]).toEqual([256, 256]);
  });

  it('when the container is complete but the pixel data is garbage, then the upload fails and the old avatar stays', async () => {
    const account = await server.api.register('garbage');
    const good = await uploadAndWait(account, await sampleImage('webp', 64, 64));
    expect(good.status).toBe('done');
    const bad = await uploadAndWait(account, pngDeclaring(40, 40));
    expect(bad).toMatchObject({ status: 'failed', image: null, sizes: {} });
    expect(bad.error).toMatch(/could not be decoded/);
    expect((await server.api.get('/user', { token: account.token })).body.user.image).toBe(
      good.image,
    );
    const [{ id: userId }] = (await server.sql<{ id: number }>(
      'select id from users where username = ?',
      [account.username],
    )) as [{ id: number }];
    expect((await storage.files()).filter((f) => f.includes(`/${userId}/`))).toEqual(
      Object.values(good.sizes).map(keyOf).sort(),
    );
  });
});
