import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from './schema.js';

/** Repository-relative path of the committed SDL, printed from the code-first schema. */
export const SDL_FILE = 'service/src/graphql/schema.graphql';

/** The schema's SDL as committed (sorted, trailing newline): `npm run graphql:sdl` writes it. */
export function renderSdl(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
