import busboy from 'busboy';
import type { IncomingMessage } from 'node:http';
import {
  BadRequestError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../errors.js';
import type { AppError } from '../errors.js';
import type { AppContext } from './state.js';

/** One file read from a multipart/form-data body. */
export interface UploadedFile {
  /** The file name the client gave (informational only). */
  filename: string;
  bytes: Buffer;
}

export interface SingleFileOptions {
  /** The form field that must carry the file. */
  field: string;
  /** Largest file (413 beyond), counted as it streams. */
  maxBytes: number;
}

/** Room for the multipart framing around the file (boundaries, part headers). */
const FRAMING_BYTES = 16 * 1024;

/**
 * Reads a `multipart/form-data` body holding exactly one file, in `field`, and nothing else,
 * with busboy's limits so nothing past them is buffered: 415 for another media type or a
 * Content-Encoding; 413 when the file (or the declared Content-Length) is over the limit; 422
 * for no file, a second file, a text field or a file in another field; 400 for broken framing.
 * On a refusal the rest of the body is discarded as it arrives, so the client reads the answer.
 */
export function readSingleFile(ctx: AppContext, options: SingleFileOptions): Promise<UploadedFile> {
  const { field, maxBytes } = options;
  if (!ctx.is('multipart/form-data')) {
    throw new UnsupportedMediaTypeError(`must be multipart/form-data with one file in "${field}"`);
  }
  const encoding = ctx.get('Content-Encoding');
  if (encoding && encoding.toLowerCase() !== 'identity') {
    throw new UnsupportedMediaTypeError('must not be content-encoded (images are compressed)');
  }
  if ((ctx.request.length ?? 0) > maxBytes + FRAMING_BYTES) {
    discard(ctx.req);
    throw tooLarge(maxBytes);
  }
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: ctx.req.headers,
      limits: { files: 1, fields: 0, fileSize: maxBytes, headerPairs: 16 },
    });
  } catch (err) {
    throw new BadRequestError({
      body: [`is not valid multipart/form-data: ${(err as Error).message}`],
    });
  }
  return new Promise<UploadedFile>((resolve, reject) => {
    let file: UploadedFile | undefined;
    let settled = false;
    const fail = (err: AppError) => {
      if (settled) return;
      settled = true;
      // The parser's listeners stay (each checks `settled`), so its late errors are handled.
      ctx.req.unpipe(parser);
      discard(ctx.req);
      reject(err);
    };
    const tooMany = () =>
      fail(new ValidationError({ [field]: [`must be the only part: one file, no other fields`] }));
    parser.on('file', (name, stream, info) => {
      if (name !== field) {
        stream.resume();
        fail(new ValidationError({ [field]: [`is missing: the file came in field ${name}`] }));
        return;
      }
      const chunks: Buffer[] = [];
      // busboy fails the file's stream too when the form breaks off; the parser reports it.
      stream.on('error', () => undefined);
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', () => {
        stream.resume();
        fail(tooLarge(maxBytes));
      });
      stream.on('end', () => {
        if (!settled) file = { filename: info.filename ?? '', bytes: Buffer.concat(chunks) };
      });
    });
    parser.on('filesLimit', tooMany);
    parser.on('fieldsLimit', tooMany);
    parser.on('error', (err: Error) =>
      fail(new BadRequestError({ body: [`is not valid multipart/form-data: ${err.message}`] })),
    );
    parser.on('close', () => {
      if (settled) return;
      settled = true;
      if (file && file.bytes.length > 0) resolve(file);
      else reject(new ValidationError({ [field]: ["can't be blank: send one image file"] }));
    });
    ctx.req.on('aborted', () =>
      fail(new BadRequestError({ body: ['ended before it was complete'] })),
    );
    ctx.req.pipe(parser);
  });
}

function tooLarge(maxBytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`file must be at most ${maxBytes} bytes`);
}

/** Reads and drops the rest of the body, so the answer reaches a client still sending. */
function discard(req: IncomingMessage): void {
  req.resume();
}
