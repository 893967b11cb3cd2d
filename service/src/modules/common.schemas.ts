/** Field schemas shared by the modules' `*.schemas.ts` (and so by the OpenAPI document). */
import { z } from 'zod';

/** A query-string integer: digits only (no signs, exponents or blanks), one value, in range. */
export function queryInt(opts: { min: number; max: number; default: number; description: string }) {
  return z
    .string()
    .regex(/^\d{1,9}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(opts.min).max(opts.max))
    .optional()
    .transform((v) => v ?? opts.default)
    .meta({
      description: opts.description,
      param: {
        schema: { type: 'integer', minimum: opts.min, maximum: opts.max, default: opts.default },
      },
    });
}

/** Page size: at most MAX_LIMIT items per page. */
export const MAX_LIMIT = 100;
/** Deepest offset accepted; deeper pages are better served by narrower filters. */
export const MAX_OFFSET = 100_000;

export const pagination = {
  limit: queryInt({
    min: 1,
    max: MAX_LIMIT,
    default: 20,
    description: `Page size (1–${MAX_LIMIT}).`,
  }),
  offset: queryInt({
    min: 0,
    max: MAX_OFFSET,
    default: 0,
    description: `Items to skip (0–${MAX_OFFSET}).`,
  }),
};

/** Free text that must not carry control characters (other than tab/newline in long text). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const NO_CONTROL = /^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]*$/;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const NO_CONTROL_SINGLE_LINE = /^[^\u0000-\u001F\u007F]*$/;

export function singleLine(field: string, max: number) {
  return z
    .string()
    .trim()
    .min(1)
    .max(max)
    .regex(NO_CONTROL_SINGLE_LINE, `${field} must not contain control characters`);
}

export function longText(field: string, max: number) {
  return z
    .string()
    .min(1)
    .max(max)
    .refine((v) => v.trim().length > 0, "can't be blank")
    .refine((v) => NO_CONTROL.test(v), `${field} must not contain control characters`);
}

export const usernameSchema = singleLine('username', 64).regex(
  /^[^/\\?#%]+$/,
  'must not contain / \\ ? # or %',
);

export const usernameParam = z.string().min(1).max(64).meta({ description: 'Username' });
export const slugParam = z.string().min(1).max(255).meta({ description: 'Article slug' });
