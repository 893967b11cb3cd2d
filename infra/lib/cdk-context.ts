import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Path of the repository's cdk.json. */
export const CDK_JSON = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cdk.json');

/**
 * The `context` block of cdk.json (feature flags). The CDK CLI applies it automatically; in-process
 * synthesis (npm run synth, tests) must pass it to `new App({ context })` to get the same template.
 */
export function cdkJsonContext(): Record<string, unknown> {
  const parsed = JSON.parse(readFileSync(CDK_JSON, 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return parsed.context ?? {};
}

/** Path of the example HTTPS context `npm run synth` and the tests use (see config.ts). */
export const EXAMPLE_CONTEXT = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'synth.example-context.json',
);

/** Example context of one environment (a domain and certificate where HTTPS is required). */
export function exampleContext(envName: string): Record<string, string> {
  const all = JSON.parse(readFileSync(EXAMPLE_CONTEXT, 'utf8')) as Record<string, unknown>;
  return (all[envName] as Record<string, string> | undefined) ?? {};
}
