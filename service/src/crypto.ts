import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time string comparison for secrets (CSRF tokens, OAuth state). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** SHA-256 as base64url: how a secret id is stored so a leaked store cannot be replayed. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
