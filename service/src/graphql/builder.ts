import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import ErrorsPlugin from '@pothos/plugin-errors';
import type { GraphqlContext } from './context.js';

/**
 * Cost model (checked before any resolver runs, so a refused document costs no query): every
 * field costs 1; a list's selections count `LIST_MULTIPLIER` times, a connection's `first` times.
 */
export const LIST_MULTIPLIER = 10;
/** The most a document may cost: a 100-article page with every field of its nodes fits. */
export const MAX_COST = 3000;

/**
 * The code-first schema builder (Pothos): types are checked against the DTOs the feature services
 * return, and the SDL is printed from the result (schema.graphql, `npm run graphql:sdl`).
 */
export const builder = new SchemaBuilder<{
  Context: GraphqlContext;
  Scalars: { DateTime: { Input: string; Output: string } };
  DefaultFieldNullability: false;
}>({
  plugins: [ErrorsPlugin, ComplexityPlugin],
  defaultFieldNullability: false,
  errors: { directResult: true },
  complexity: {
    defaultComplexity: 1,
    defaultListMultiplier: LIST_MULTIPLIER,
    limit: { complexity: MAX_COST, depth: 1000, breadth: 1000 },
  },
});
