// PUT /api/user/avatar against the real service: a good image is staged and recorded as a pending
// upload with its job in one go; every malformed upload gets a 4xx naming the problem and leaves
// nothing behind (no upload row, no outbox job, no file). Processing is the worker's (worker/test).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AVATAR_RESIZE } from '../../src/jobs/contracts.js';
import type { Account } from '../support/client.js';
import { form, pngDeclaring, sampleImage, tempStorage } from '../support/images.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** Small, so the oversized cases send kilobytes. */
const MAX_BYTES = 64 * 1024;

let server: TestServer;
let storage: Awaited<ReturnType<typeof tempStorage>>;
let alice: Account;
let png: Buffer;
let jpeg: Buffer;

beforeAll(async () => {
  storage = await tempStorage();
  server = await startTestServer({ STORAGE_DIR: storage.dir, AVATAR_MAX_BYTES: String(MAX_BYTES) });
  alice = await server.api.register('avatar');
  [png, jpeg] = await Promise.all([sampleImage('png', 120, 90), sampleImage('jpeg', 120, 90)]);
}, 60_000);

afterAll(async () => {
  await server?.close();
  await storage?.remove();
});

const upload = (
  body: FormData | string | Uint8Array<ArrayBuffer>,
  headers: Record<string, string> = {},
) => server.api.put('/user/avatar', { token: alice.token, raw: body, headers });

/** Upload rows, avatar jobs and stored files: what a refused upload must not leave. */
async function leftovers() {
  const [uploads] = await server.sql<{ n: number }>(
    'select count(*)::int as n from avatar_uploads',
  );
  const [jobs] = await server.sql<{ n: number }>(
    'select count(*)::int as n from outbox where name = ?',
    [AVATAR_RESIZE.name],
  );
  return { uploads: uploads!.n, jobs: jobs!.n, files: await storage.files() };
}

describe('refused uploads', () => {
  const cases: [
    string,
    () => { body: FormData | string | Uint8Array<ArrayBuffer>; headers?: Record<string, string> },
    number,
    RegExp,
  ][] = [
    [
      'a text file declared as image/png (wrong magic bytes)',
      () => ({
        body: form([
          { bytes: Buffer.from('hello, not an image'), type: 'image/png', name: 'a.png' },
        ]),
      }),
      415,
      /JPEG, PNG, WebP or GIF/,
    ],
    [
      'an SVG (not an accepted type, whatever it declares)',
      () => ({
        body: form([
          { bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), type: 'image/png' },
        ]),
      }),
      415,
      /JPEG, PNG, WebP or GIF/,
    ],
    [
      'a file just over AVATAR_MAX_BYTES (counted as it streams)',
      () => ({ body: form([{ bytes: Buffer.concat([png, Buffer.alloc(MAX_BYTES)]) }]) }),
      413,
      new RegExp(`at most ${MAX_BYTES} bytes`),
    ],
    [
      'a body whose Content-Length is far over the limit (refused before reading)',
      () => ({ body: form([{ bytes: Buffer.alloc(MAX_BYTES * 4, 1) }]) }),
      413,
      new RegExp(`at most ${MAX_BYTES} bytes`),
    ],
    [
      'a truncated JPEG',
      () => ({ body: form([{ bytes: jpeg.subarray(0, Math.floor(jpeg.length / 2)) }]) }),
      422,
      /truncated/,
    ],
    [
      'a truncated PNG',
      () => ({ body: form([{ bytes: png.subarray(0, png.length - 20) }]) }),
      422,
      /truncated/,
    ],
    [
      'a 60-byte PNG declaring 50,000×50,000 pixels (a decompression bomb)',
      () => ({ body: form([{ bytes: pngDeclaring(50_000, 50_000) }]) }),
      422,
      /50000×50000 pixels; at most 25,000,000/,
    ],
    [
      'a JSON body',
      () => ({
        body: JSON.stringify({ image: 'x' }),
        headers: { 'Content-Type': 'application/json' },
      }),
      415,
      /multipart\/form-data/,
    ],
    [
      'the raw image bytes, not multipart',
      () => ({ body: new Uint8Array(png), headers: { 'Content-Type': 'image/png' } }),
      415,
      /multipart\/form-data/,
    ],
    ['two files', () => ({ body: form([{ bytes: png }, { bytes: png }]) }), 422, /only part/],
    [
      'a file and a text field',
      () => ({ body: form([{ bytes: png }], { caption: 'me' }) }),
      422,
      /only part/,
    ],
    [
      'the file in another field',
      () => ({ body: form([{ bytes: png, field: 'avatar' }]) }),
      422,
      /came in field avatar/,
    ],
    ['no file at all', () => ({ body: form([], {}) }), 422, /can't be blank/],
    [
      'multipart without a boundary',
      () => ({ body: 'whatever', headers: { 'Content-Type': 'multipart/form-data' } }),
      400,
      /not valid multipart/,
    ],
    [
      'multipart cut off before its closing boundary',
      () => ({
        body: `--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n${'a'.repeat(100)}`,
        headers: { 'Content-Type': 'multipart/form-data; boundary=xyz' },
      }),
      400,
      /not valid multipart/,
    ],
  ];

  it.each(cases)(
    '%s: %i with a reason, and nothing is left behind',
    async (_name, make, status, reason) => {
      const { body, headers } = make();
      const res = await upload(body, headers);
      expect(res.status).toBe(status);
      expect(JSON.stringify(res.body.errors)).toMatch(reason);
      expect(await leftovers()).toEqual({ uploads: 0, jobs: 0, files: [] });
    },
  );

  it('when another route gets multipart, then it still answers 415', async () => {
    const res = await server.api.put('/user', { token: alice.token, raw: form([{ bytes: png }]) });
    expect(res.status).toBe(415);
    expect(res.body.errors.body).toEqual(['must be application/json']);
  });

  it('without a token, then 401 and nothing is stored', async () => {
    const res = await server.api.put('/user/avatar', { raw: form([{ bytes: png }]) });
    expect(res.status).toBe(401);
    expect(await leftovers()).toEqual({ uploads: 0, jobs: 0, files: [] });
  });
});

describe('an accepted upload', () => {
  it('when a PNG is sent (declared as something else), then 202 pending; the original is staged and its job written', async () => {
    const res = await upload(
      form([{ bytes: png, type: 'application/octet-stream', name: 'me.bin' }]),
    );
    expect(res.status).toBe(202);
    const { avatarUpload } = res.body;
    expect(avatarUpload).toMatchObject({
      status: 'pending',
      contentType: 'image/png',
      width: 120,
      height: 90,
      image: null,
      sizes: {},
      error: null,
    });
    const [me] = await server.sql<{ id: number }>('select id from users where username = ?', [
      alice.username,
    ]);
    expect(await storage.files()).toEqual([`uploads/${me!.id}/${avatarUpload.id}.png`]);
    const jobs = await server.sql<{ payload: unknown }>(
      'select payload from outbox where name = ?',
      [AVATAR_RESIZE.name],
    );
    expect(jobs).toEqual([{ payload: { uploadId: avatarUpload.id } }]);

    const status = await server.api.get(`/user/avatar/${avatarUpload.id}`, { token: alice.token });
    expect(status.status).toBe(200);
    expect(status.body.avatarUpload).toEqual(avatarUpload);
  });

  it('when someone else asks for the upload, then 404; a malformed id, 422', async () => {
    const [row] = await server.sql<{ id: string }>('select id::text as id from avatar_uploads');
    const bob = await server.api.register('avatar-bob');
    expect((await server.api.get(`/user/avatar/${row!.id}`, { token: bob.token })).status).toBe(
      404,
    );
    expect((await server.api.get('/user/avatar/42', { token: bob.token })).status).toBe(422);
  });
});
