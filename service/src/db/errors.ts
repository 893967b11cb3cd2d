import { UniqueConstraintViolationException } from '@mikro-orm/core';

/** The name of the unique constraint an error violated, or undefined for any other error. */
export function violatedUniqueConstraint(err: unknown): string | undefined {
  if (!(err instanceof UniqueConstraintViolationException)) return undefined;
  return (err as unknown as { constraint?: string }).constraint ?? 'unknown';
}
