/**
 * The CDK app (`cdk.json` → `npx tsx infra/bin/app.ts`). One environment per invocation:
 *   npx cdk synth -c env=prod
 *   npx cdk deploy --all -c env=dev
 */
import { App } from 'aws-cdk-lib';
import { loadConfig } from '../lib/config.js';
import { addNagChecks } from '../lib/nag.js';
import { addPlinthStacks } from '../lib/plinth.js';

const app = new App();
const config = loadConfig({ context: (key) => app.node.tryGetContext(key), env: process.env });
const imageDirectory = app.node.tryGetContext('imageDirectory') as string | undefined;
addPlinthStacks(app, config, imageDirectory ? { imageDirectory } : {});
addNagChecks(app);
app.synth();
