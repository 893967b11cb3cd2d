/** Image files for upload tests: real encodings made by sharp, and hand-made malformed ones. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';

/** A real image of `width`×`height` in `format`, a colour gradient so encoders have work. */
export async function sampleImage(
  format: 'png' | 'jpeg' | 'webp' | 'gif',
  width: number,
  height: number,
): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i += 1) {
    pixels[i * 3] = (i % width) & 0xff;
    pixels[i * 3 + 1] = Math.floor(i / width) & 0xff;
    pixels[i * 3 + 2] = 0x80;
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .toFormat(format)
    .toBuffer();
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * A complete PNG container of a few dozen bytes whose header declares `width`×`height` (a
 * decompression bomb when large) and whose pixel data is `idat` (garbage by default).
 */
export function pngDeclaring(
  width: number,
  height: number,
  idat = Buffer.from('not zlib'),
): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale, deflate, no filter, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A multipart form with the given file parts (field, bytes, declared type) and text fields. */
export function form(
  files: { field?: string; bytes: Buffer; type?: string; name?: string }[],
  fields: Record<string, string> = {},
): FormData {
  const data = new FormData();
  for (const [name, value] of Object.entries(fields)) data.append(name, value);
  for (const file of files) {
    data.append(
      file.field ?? 'image',
      new Blob([new Uint8Array(file.bytes)], { type: file.type ?? 'application/octet-stream' }),
      file.name ?? 'avatar',
    );
  }
  return data;
}

/** A fresh STORAGE_DIR; `files()` lists every file under it (relative keys), `remove()` cleans up. */
export async function tempStorage(): Promise<{
  dir: string;
  files(): Promise<string[]>;
  remove(): Promise<void>;
}> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'plinth-storage-'));
  return {
    dir,
    async files() {
      const entries = await readdir(dir, { recursive: true, withFileTypes: true });
      return entries
        .filter((e) => e.isFile())
        .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
        .sort();
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
