import { randomBytes } from 'node:crypto';
import slugify from '@sindresorhus/slugify';

/** URL slug of a title: transliterated, lower-case, at most 200 characters, never empty. */
export function baseSlug(title: string): string {
  const slug = slugify(title, { lowercase: true }).slice(0, 200).replace(/-+$/, '');
  return slug || 'article';
}

/** A variant used when the base slug is taken: 8 random base-36 characters appended. */
export function uniqueSlug(title: string): string {
  const suffix = BigInt(`0x${randomBytes(6).toString('hex')}`)
    .toString(36)
    .padStart(8, '0')
    .slice(-8);
  return `${baseSlug(title)}-${suffix}`;
}
