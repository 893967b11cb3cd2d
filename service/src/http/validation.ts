import type { z } from 'zod';
import type { ErrorBody } from '../errors.js';

/** The envelope keys RealWorld wraps bodies in; error fields are reported without them. */
const ENVELOPES = new Set(['user', 'article', 'comment']);

/** The field name reported for a value at `path`: dotted, without the RealWorld envelope. */
export function fieldOf(path: string[], fallbackField: string): string {
  const inner = path.length > 1 && ENVELOPES.has(path[0]!) ? path.slice(1) : path;
  return inner.join('.') || fallbackField;
}

function messageFor(issue: z.core.$ZodIssue, fallbackField: string): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined || issue.input === null) return "can't be blank";
      // Only a repeated query parameter (`?tag=a&tag=b`) arrives as an array for a string.
      if (Array.isArray(issue.input) && issue.expected === 'string' && fallbackField === 'query') {
        return 'must be given once';
      }
      return `must be ${issue.expected === 'array' ? 'an array' : `a ${issue.expected}`}`;
    case 'too_small':
      if (issue.origin === 'string') {
        return Number(issue.minimum) <= 1
          ? "can't be blank"
          : `is too short (minimum is ${issue.minimum} characters)`;
      }
      if (issue.origin === 'array') return `must have at least ${issue.minimum} items`;
      return `must be greater than or equal to ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'string') return `is too long (maximum is ${issue.maximum} characters)`;
      if (issue.origin === 'array') return `must have at most ${issue.maximum} items`;
      return `must be less than or equal to ${issue.maximum}`;
    case 'invalid_format':
      return issue.format === 'regex' ? issue.message : 'is invalid';
    default:
      return issue.message;
  }
}

/**
 * Turns zod issues into RealWorld field errors: `{"email": ["can't be blank"]}`. Field names can
 * be the client's own keys (`constructor`, `__proto__`), so the result has no prototype: each is a
 * field like any other, not an inherited member.
 */
export function toFieldErrors(error: z.ZodError, fallbackField: string): ErrorBody {
  const out = Object.create(null) as ErrorBody;
  const add = (field: string, message: string) => {
    const messages = (out[field] ??= []);
    if (!messages.includes(message)) messages.push(message);
  };
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) add(key, 'is not a known parameter');
      continue;
    }
    add(fieldOf(issue.path.map(String), fallbackField), messageFor(issue, fallbackField));
  }
  return out;
}
