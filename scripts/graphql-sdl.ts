/**
 * `npm run graphql:sdl`: prints the code-first GraphQL schema to the committed SDL file
 * (service/src/graphql/schema.graphql). Run it after changing the schema; `npm test` fails until
 * the committed file matches the code.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSdl, SDL_FILE } from '../service/src/graphql/sdl.js';

writeFileSync(join(import.meta.dirname, '..', SDL_FILE), renderSdl());
console.log(`${SDL_FILE} written`);
