import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

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
    files: ['**/test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  prettier,
);
