/**
 * The committed SDL (service/src/graphql/schema.graphql) is the schema in code, printed: a change
 * to either alone fails here. `npm run graphql:sdl` rewrites the file from the code. No database.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema, validate, parse } from 'graphql';
import { OPERATIONS } from '../../../loadtests/lib/graphql.js';
import { renderSdl, SDL_FILE } from '../../src/graphql/sdl.js';

const root = path.resolve(import.meta.dirname, '../../..');
const committed = readFileSync(path.join(root, SDL_FILE), 'utf8');

describe('the committed GraphQL SDL', () => {
  it('equals the schema built in code (run `npm run graphql:sdl` after a schema change)', () => {
    expect(committed).toBe(renderSdl());
  });

  it('serves every operation the k6 GraphQL journey sends', () => {
    const schema = buildSchema(committed);
    for (const [name, query] of Object.entries(OPERATIONS)) {
      expect({ name, errors: validate(schema, parse(query)).map((e) => e.message) }).toEqual({
        name,
        errors: [],
      });
    }
  });
});
