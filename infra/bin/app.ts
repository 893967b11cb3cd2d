/**
 * The CDK app (`cdk.json` → `npx tsx infra/bin/app.ts`). One environment per invocation:
 *   npx cdk synth -c env=prod -c domainName=api.example.com -c certificateArn=arn:aws:acm:...
 *   npx cdk deploy --all -c env=dev
 * or the delivery pipeline (settings in infra/lib/pipeline-config.ts), or the role GitHub Actions
 * deploys with:
 *   npx cdk deploy -c pipeline=true Plinth-Pipeline
 *   npx cdk deploy -c githubOidc=true -c repository=owner/name Plinth-GitHubDeploy
 * A configuration problem prints what to set and exits 1 (no stack trace).
 */
import { App } from 'aws-cdk-lib';
import { ConfigError, loadConfig } from '../lib/config.js';
import { addNagChecks } from '../lib/nag.js';
import { loadGitHubDeployConfig, loadPipelineConfig } from '../lib/pipeline-config.js';
import { addPlinthStacks } from '../lib/plinth.js';
import { addGitHubDeployStack, addPipelineStack } from '../lib/synthesize.js';

const app = new App();
const context = (key: string): unknown => app.node.tryGetContext(key);
const enabled = (key: string) => String(context(key) ?? '') === 'true';
try {
  const imageDirectory = context('imageDirectory') as string | undefined;
  if (enabled('pipeline')) {
    addPipelineStack(app, loadPipelineConfig({ context }), imageDirectory);
  } else if (enabled('githubOidc')) {
    addGitHubDeployStack(app, loadGitHubDeployConfig({ context, env: process.env }));
  } else {
    const config = loadConfig({ context, env: process.env });
    addPlinthStacks(app, config, imageDirectory ? { imageDirectory } : {});
  }
  addNagChecks(app);
  app.synth();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exitCode = 1;
}
