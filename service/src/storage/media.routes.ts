import Router from '@koa/router';
import { ForbiddenError, NotFoundError } from '../errors.js';
import type { AppState } from '../http/state.js';
import {
  contentDisposition,
  isObjectKey,
  isPublicKey,
  type DownloadSigner,
  type ObjectStorage,
} from './index.js';

/** The wildcard's segments, decoded by the router, as one key. */
function keyOf(params: Record<string, string | string[] | undefined>): string {
  const { key } = params;
  return Array.isArray(key) ? key.join('/') : (key ?? '');
}

/**
 * `GET /media/<key>`: public objects (avatars), streamed from storage. Keys are unique per upload,
 * so responses are immutable for a year (a CDN in front may cache them); private keys answer 404
 * as if absent. `GET /media/download/<key>?expires&filename&signature`: the local driver's signed,
 * expiring download links (S3 links go to S3 itself, so this answers 404 there).
 */
export function mediaRouter(deps: { storage: ObjectStorage; signer: DownloadSigner }) {
  const { storage, signer } = deps;
  const router = new Router<AppState>({ prefix: '/media' });

  router.get('/download/*key', async (ctx) => {
    const key = keyOf(ctx.params);
    if (storage.driver !== 'local' || !isObjectKey(key)) throw new NotFoundError('file');
    const verdict = signer.check(key, ctx.query);
    if (verdict !== 'ok') {
      throw new ForbiddenError(
        verdict === 'expired'
          ? 'has expired; request a new download link'
          : 'is not a valid download link',
        'link',
      );
    }
    const object = await storage.get(key);
    if (!object) throw new NotFoundError('file');
    ctx.set('Cache-Control', 'private, no-store');
    ctx.set('Content-Disposition', contentDisposition(String(ctx.query.filename)));
    ctx.type = object.contentType;
    if (object.contentLength !== undefined) ctx.length = object.contentLength;
    ctx.body = object.body;
  });

  router.get('/*key', async (ctx) => {
    const key = keyOf(ctx.params);
    const object = isPublicKey(key) ? await storage.get(key) : undefined;
    if (!object) throw new NotFoundError('file');
    ctx.set('Cache-Control', 'public, max-age=31536000, immutable');
    ctx.type = object.contentType;
    if (object.contentLength !== undefined) ctx.length = object.contentLength;
    ctx.body = object.body;
  });

  return router;
}
