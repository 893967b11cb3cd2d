/**
 * The CDK app (`cdk.json` → `npx tsx infra/bin/app.ts`). One environment per invocation:
 *   npx cdk synth -c env=prod -c domainName=api.example.com -c certificateArn=arn:aws:acm:...
 *   npx cdk deploy --all -c env=dev
 * A configuration problem prints what to set and exits 1 (no stack trace).
 */
import { App } from 'aws-cdk-lib';
import { ConfigError, loadConfig } from '../lib/config.js';
import { addNagChecks } from '../lib/nag.js';
import { addPlinthStacks } from '../lib/plinth.js';

const app = new App();
try {
  const config = loadConfig({ context: (key) => app.node.tryGetContext(key), env: process.env });
  const imageDirectory = app.node.tryGetContext('imageDirectory') as string | undefined;
  addPlinthStacks(app, config, imageDirectory ? { imageDirectory } : {});
  addNagChecks(app);
  app.synth();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exitCode = 1;
}
