/**
 * What an uploaded image is, decided from its bytes, before anything decodes it: the type from
 * its magic bytes (the declared Content-Type is ignored), the dimensions from its header (a
 * small file can declare a huge image: a decompression bomb), and whether the container is
 * complete (a truncated upload). The worker still decodes with a pixel limit and fails the
 * upload on corrupt data inside a complete container.
 */
import sharp from 'sharp';
import { AppError, ValidationError } from '../../errors.js';

export interface ImageType {
  /** As stored with the original and reported to the client. */
  contentType: 'image/jpeg' | 'image/png' | 'image/webp' | 'image/gif';
  /** The staged original's extension. */
  ext: 'jpg' | 'png' | 'webp' | 'gif';
  /** libvips' name for the format (sharp's `metadata().format`). */
  format: 'jpeg' | 'png' | 'webp' | 'gif';
  /** Whether the container holds its whole image (its end marker, or its declared length). */
  complete(bytes: Buffer): boolean;
}

const ascii = (s: string) => Buffer.from(s, 'latin1');
const startsWith = (bytes: Buffer, sig: Buffer, at = 0) =>
  bytes.length >= at + sig.length && bytes.subarray(at, at + sig.length).equals(sig);

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** The IEND chunk: type and its fixed CRC. */
const PNG_END = Buffer.from([0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);
const JPEG_SOI = Buffer.from([0xff, 0xd8, 0xff]);
const [JPEG_SOS, JPEG_EOI] = [Buffer.from([0xff, 0xda]), Buffer.from([0xff, 0xd9])];

/** The accepted types, by signature. */
export const IMAGE_TYPES: readonly (ImageType & { matches(bytes: Buffer): boolean })[] = [
  {
    contentType: 'image/jpeg',
    ext: 'jpg',
    format: 'jpeg',
    matches: (b) => startsWith(b, JPEG_SOI),
    // Entropy-coded data never holds FF D9 (FF is stuffed), so the last scan must be followed by
    // the end-of-image marker; trailing vendor data after it is allowed.
    complete: (b) => b.lastIndexOf(JPEG_EOI) > b.lastIndexOf(JPEG_SOS),
  },
  {
    contentType: 'image/png',
    ext: 'png',
    format: 'png',
    matches: (b) => startsWith(b, PNG_SIGNATURE),
    complete: (b) => b.lastIndexOf(PNG_END) > PNG_SIGNATURE.length,
  },
  {
    contentType: 'image/webp',
    ext: 'webp',
    format: 'webp',
    matches: (b) => startsWith(b, ascii('RIFF')) && startsWith(b, ascii('WEBP'), 8),
    // RIFF's size field counts everything after its first 8 bytes.
    complete: (b) => b.length >= 12 && b.readUInt32LE(4) + 8 <= b.length,
  },
  {
    contentType: 'image/gif',
    ext: 'gif',
    format: 'gif',
    matches: (b) => startsWith(b, ascii('GIF87a')) || startsWith(b, ascii('GIF89a')),
    // The trailer byte ends every GIF.
    complete: (b) => b.length > 13 && b[b.length - 1] === 0x3b,
  },
];

export const ACCEPTED_TYPES = 'JPEG, PNG, WebP or GIF';

export interface InspectedImage {
  type: ImageType;
  width: number;
  height: number;
}

/**
 * The image's type and dimensions: 415 when the bytes are not one of the accepted types, 422
 * when it is truncated, its header unreadable, or it declares more than `maxPixels` pixels.
 */
export async function inspectImage(
  bytes: Buffer,
  maxPixels: number,
  field = 'image',
): Promise<InspectedImage> {
  const type = IMAGE_TYPES.find((t) => t.matches(bytes));
  if (!type) {
    throw new AppError(415, { [field]: [`must be a ${ACCEPTED_TYPES} image (by its content)`] });
  }
  const invalid = (message: string) => new ValidationError({ [field]: [message] });
  if (!type.complete(bytes)) throw invalid(`is truncated (an incomplete ${type.format} file)`);
  let width: number | undefined;
  let height: number | undefined;
  let format: string | undefined;
  try {
    // Reads the header only; the pixel limit is checked here, with a message, instead.
    ({ width, height, format } = await sharp(bytes, { limitInputPixels: false }).metadata());
  } catch {
    throw invalid(`is not a readable ${type.format} image`);
  }
  if (format !== type.format || !width || !height) {
    throw invalid(`is not a readable ${type.format} image`);
  }
  if (width * height > maxPixels) {
    throw invalid(
      `is ${width}×${height} pixels; at most ${maxPixels.toLocaleString('en')} pixels are accepted`,
    );
  }
  return { type, width, height };
}
