import js from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/**
 * Which layer of the service (and the worker) a file belongs to, by its path and role suffix;
 * the first match wins. docs/architecture.md says which layer may import which.
 */
const LAYERS = [
  // Entry points: HTTP (REST routes, middleware, the app), the process and CLI programs.
  {
    category: 'entry',
    pattern: [
      'service/src/http/**',
      'service/src/**/*.routes.ts',
      'service/src/modules/docs/**',
      'service/src/{app,server,api-main,body-routes}.ts',
      // The GraphQL endpoint: schema, resolvers and its Koa middleware.
      'service/src/graphql/**',
      'service/src/db/{migrate,seed,seed-data,create-migration}.ts',
    ],
  },
  { category: 'entity', pattern: 'service/src/modules/**/*.entity.ts' },
  { category: 'schema', pattern: 'service/src/modules/**/*.schemas.ts' },
  // Feature services and the domain parts they are built from (abilities, sessions, tokens…).
  { category: 'service', pattern: 'service/src/modules/**' },
  // Job contracts (queue names, payload schemas), the outbox writer and the queue client.
  { category: 'jobs', pattern: 'service/src/jobs/**' },
  // Infrastructure every process shares: config, logging, errors, database, Redis, limits.
  { category: 'infra', pattern: 'service/src/**' },
  { category: 'worker', pattern: 'worker/src/**' },
];

/** What each layer may import (a layer always imports itself). */
const MAY_IMPORT = {
  entry: ['entry', 'service', 'schema', 'entity', 'jobs', 'infra'],
  service: ['service', 'schema', 'entity', 'jobs', 'infra'],
  schema: ['schema', 'entity'],
  entity: ['entity'],
  // The outbox writer creates outbox rows (an entity) in the caller's unit of work.
  jobs: ['jobs', 'entity', 'infra'],
  infra: ['infra', 'entity'],
  // The worker runs jobs with the service's contracts, entities and domain services, on the
  // same process infrastructure; never through the HTTP layer.
  worker: ['worker', 'jobs', 'entity', 'service', 'infra'],
};

export default tseslint.config(
  { ignores: ['node_modules', 'dist', 'cdk.out', 'coverage', 'loadtests/dist', '.local'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        Buffer: 'readonly',
        fetch: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'smart'],
      // Parameterized queries only: SQL handed to the database must be a constant (values go in
      // the parameter array or MikroORM's `sql` tagged template), never built from strings.
      'no-restricted-syntax': [
        'error',
        {
          selector:
            'CallExpression[callee.property.name=/^(execute|raw|query|unsafe)$/] > TemplateLiteral.arguments:first-child[expressions.length>0]',
          message: 'Build SQL with parameters (?, params) or the sql`` tag, not template strings.',
        },
        {
          selector:
            "CallExpression[callee.property.name=/^(execute|raw|query|unsafe)$/] > BinaryExpression.arguments:first-child[operator='+']",
          message: 'Build SQL with parameters (?, params) or the sql`` tag, not concatenation.',
        },
        {
          selector:
            "CallExpression[callee.name='raw'] > :matches(TemplateLiteral[expressions.length>0], BinaryExpression[operator='+']).arguments:first-child",
          message: 'Build SQL with parameters (?, params) or the sql`` tag, not string building.',
        },
      ],
      'no-console': 'off',
    },
  },
  {
    files: ['service/src/**/*.ts', 'worker/src/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'import/resolver': { typescript: { project: './tsconfig.json' } },
      'boundaries/elements': [
        { type: 'service-app', pattern: 'service/src', partialMatch: false },
        { type: 'worker-app', pattern: 'worker/src', partialMatch: false },
      ],
      'boundaries/files': LAYERS,
      'boundaries/files-single-match': true,
    },
    rules: {
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          // Layers live side by side in one app folder, so dependencies inside it are checked.
          checkInternals: true,
          message:
            'layers import one way: entry points → feature services → entities and infrastructure (docs/architecture.md)',
          policies: Object.entries(MAY_IMPORT).map(([from, to]) => ({
            from: { file: { categories: from } },
            allow: { to: { file: { categories: { anyOf: to } } } },
          })),
        },
      ],
    },
  },
  {
    files: ['**/test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  prettier,
);
