import fc from 'fast-check';
import type { JsonSchema } from './contract.js';

export interface SchemaArbitraryOptions {
  /** Resolves a `$ref` (e.g. `#/components/schemas/NewUser`) to its schema. */
  resolve: (ref: string) => JsonSchema;
  /**
   * Longest string generated, whatever the schema allows: valid-but-huge inputs belong to the
   * malformed variants, and short strings keep thousands of requests cheap.
   * @default 40
   */
  maxStringLength?: number;
  /** @default 4 */
  maxArrayLength?: number;
}

/** Printable ASCII most of the time, any Unicode grapheme (emoji, combining marks) sometimes. */
function text(minLength: number, maxLength: number): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength, maxLength }) },
    {
      weight: 1,
      arbitrary: fc
        .string({ unit: 'grapheme', minLength, maxLength })
        // Graphemes can be several UTF-16 units; the server counts units, as JavaScript does.
        .filter((s) => s.length >= minLength && s.length <= maxLength),
    },
  );
}

function stringArbitrary(schema: JsonSchema, maxStringLength: number): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = Math.max(min, Math.min(schema.maxLength ?? maxStringLength, maxStringLength));
  switch (schema.format) {
    case 'email':
      return fc.emailAddress().filter((e) => e.length <= (schema.maxLength ?? Infinity));
    case 'date-time':
      return fc
        .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
        .map((d) => d.toISOString());
    case 'uri':
    case 'url':
      return fc.webUrl();
  }
  const base = text(min, max);
  if (!schema.pattern) return base;
  const pattern = new RegExp(schema.pattern, 'u');
  // Patterns in our documents exclude a few characters; filtering random text suits them better
  // than fc.stringMatching, which cannot also honour the length bounds.
  return base.filter((s) => pattern.test(s));
}

/**
 * A fast-check arbitrary of values valid against a JSON Schema (the subset OpenAPI documents
 * generated from zod use): `$ref`, `anyOf`/`oneOf`, `enum`/`const`, type lists, strings with
 * length/pattern/format, integers and numbers with bounds, arrays, objects with required and
 * optional properties. Keywords it does not know are ignored, so values are "schema-shaped"
 * rather than guaranteed valid; the server's verdict is what the tests observe.
 */
export function arbitraryFromSchema(
  schema: JsonSchema,
  options: SchemaArbitraryOptions,
): fc.Arbitrary<unknown> {
  const maxStringLength = options.maxStringLength ?? 40;
  const maxArrayLength = options.maxArrayLength ?? 4;
  const recurse = (s: JsonSchema) => arbitraryFromSchema(s, options);

  if (schema.$ref) return recurse(options.resolve(schema.$ref));
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(alternatives)) return fc.oneof(...alternatives.map(recurse));
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) {
    return recurse(Object.assign({}, ...schema.allOf.map((s: JsonSchema) => deepResolve(s))));
  }
  if (Array.isArray(schema.type)) {
    return fc.oneof(...schema.type.map((type: string) => recurse({ ...schema, type })));
  }
  switch (schema.type) {
    case 'string':
      return stringArbitrary(schema, maxStringLength);
    case 'integer':
      return fc.integer({
        min: schema.minimum ?? (schema.exclusiveMinimum ?? -1_000_001) + 1,
        max: schema.maximum ?? (schema.exclusiveMaximum ?? 1_000_001) - 1,
      });
    case 'number':
      return fc.double({
        min: schema.minimum ?? -1e6,
        max: schema.maximum ?? 1e6,
        noNaN: true,
        noDefaultInfinity: true,
      });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(recurse(schema.items ?? {}), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? 10, maxArrayLength)),
      });
    case 'object':
    case undefined: {
      if (!schema.properties) return schema.type ? fc.constant({}) : fc.jsonValue();
      const model = Object.fromEntries(
        Object.entries(schema.properties as Record<string, JsonSchema>).map(([k, v]) => [
          k,
          recurse(v),
        ]),
      );
      return fc.record(model, { requiredKeys: schema.required ?? [] });
    }
    default:
      return fc.jsonValue();
  }

  function deepResolve(s: JsonSchema): JsonSchema {
    return s.$ref ? deepResolve(options.resolve(s.$ref)) : s;
  }
}

/**
 * Strings that have broken web services before: SQL and HTML metacharacters, template and path
 * tricks, NUL and other control characters, lone surrogates, bidi overrides, emoji, numbers in
 * disguise, and strings just past common column limits.
 */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  // Control characters get a share of their own: PostgreSQL rejects NUL in text outright.
  {
    weight: 1,
    arbitrary: fc.constantFrom('\u0000', 'a\u0000b', '\u0000\u0000', '\u0001', '\u001f', '\u007f'),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "' OR '1'='1",
      "'; DROP TABLE users; --",
      '" OR ""="',
      '\\',
      '%',
      '%25',
      '%00',
      '_',
      '"><script>alert(1)</script>',
      '<img src=x onerror=alert(1)>',
      '{{7*7}}',
      '${jndi:ldap://x/a}',
      '../../../etc/passwd',
      '..',
      '.',
      'feed',
      '\u0000',
      'a\u0000b',
      '\u0007\u001b[31m',
      '\t',
      '\r\n',
      '\ud800',
      '\udfff\ud800',
      '\u202egnp.exe',
      '\ufeff',
      'e\u0301',
      '🦄🔥👩‍👩‍👧‍👦',
      'İıßſ',
      '   ',
      '',
      'null',
      'undefined',
      'NaN',
      '-1',
      '0',
      '1e309',
      '9007199254740993',
      'true',
      '[]',
      '{}',
      '__proto__',
      'constructor',
      'x'.repeat(64),
      'x'.repeat(65),
      'x'.repeat(255),
      'x'.repeat(256),
      'é'.repeat(300),
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  // Any code point, including control characters and lone surrogates.
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
);

/** Authorization header values that must never authenticate anyone (all Latin-1, as HTTP needs). */
export const garbageAuthorization: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'Token',
    'Token ',
    'Bearer',
    'Basic dXNlcjpwYXNz',
    'Token a.b.c',
    'Token ....',
    'Token eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.',
    'Token eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIiwiaXNzIjoicGxpbnRoIiwiYXVkIjoicGxpbnRoLWFwaSJ9.x',
    'Token null',
    'token abc.def.ghi',
    'Token abc.def.ghi extra',
  ),
  fc.string({ unit: 'grapheme-ascii', maxLength: 80 }).map((s) => `Token ${s}`),
  fc
    .tuple(fc.base64String(), fc.base64String(), fc.base64String())
    .map((parts) => `Token ${parts.map((p) => p.replace(/[+/=]/g, '')).join('.')}`),
);
