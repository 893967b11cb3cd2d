import {
  EntitySchema,
  ForeignKeyConstraintViolationException,
  UniqueConstraintViolationException,
} from '@mikro-orm/core';
import { entities } from './entities.js';

const constraintOf = (err: unknown) => (err as { constraint?: string }).constraint;

/** The name of the unique constraint an error violated, or undefined for any other error. */
export function violatedUniqueConstraint(err: unknown): string | undefined {
  if (!(err instanceof UniqueConstraintViolationException)) return undefined;
  return constraintOf(err) ?? 'unknown';
}

/**
 * Foreign-key constraint → the relation it enforces, from the names the entities give their
 * relations (`.foreignKeyName('favorites_article_id_foreign')` on `Favorite.article` → `article`).
 */
export const FOREIGN_KEYS: ReadonlyMap<string, string> = new Map(
  entities.flatMap((entity) =>
    Object.entries(EntitySchema.REGISTRY.get(entity)?.meta.properties ?? {}).flatMap(
      ([name, prop]) => {
        const fk = (prop as { foreignKeyName?: string }).foreignKeyName;
        return fk ? [[fk, name] as const] : [];
      },
    ),
  ),
);

/**
 * The relation whose target is gone when `err` is a foreign-key violation (a row this request
 * pointed at was deleted by a concurrent request between its read and its write), or undefined
 * for any other error.
 */
export function missingReference(err: unknown): string | undefined {
  if (!(err instanceof ForeignKeyConstraintViolationException)) return undefined;
  return FOREIGN_KEYS.get(constraintOf(err) ?? '');
}
