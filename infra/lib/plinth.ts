import { Tags, Validations } from 'aws-cdk-lib';
import type { Environment } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { PlinthConfig } from './config.js';
import { AppStack } from './stacks/app-stack.js';
import { DataStack } from './stacks/data-stack.js';
import { NetworkStack } from './stacks/network-stack.js';

/** Options for {@link addPlinthStacks}. */
export interface PlinthStacksOptions {
  /** Docker build context for the application image. @default the repository root */
  readonly imageDirectory?: string;
}

/** The stacks of one environment. */
export interface PlinthStacks {
  /** VPC, NAT, endpoints, flow logs. */
  readonly network: NetworkStack;
  /** Stateful resources (termination protection in prod). */
  readonly data: DataStack;
  /** ECS, ALB, WAF, migrations, mail, observability. */
  readonly app: AppStack;
}

/**
 * Adds the three Plinth stacks of one environment to `app` (stack names `Plinth-<env>-*`): an App,
 * or a `Stage` of a pipeline (CDK Pipelines deploys the stage's stacks in dependency order), with
 * the same stack names either way.
 */
export function addPlinthStacks(
  app: Construct,
  config: PlinthConfig,
  options: PlinthStacksOptions = {},
): PlinthStacks {
  const env: Environment = { account: config.account, region: config.region };
  const prefix = `Plinth-${config.envName}`;
  // Explicit stack names: inside a pipeline Stage the default would prefix the stage's name, and
  // the pipeline must update the same stacks `cdk deploy` by hand does.
  const network = new NetworkStack(app, `${prefix}-Network`, {
    stackName: `${prefix}-Network`,
    env,
    config,
    description: `Plinth ${config.envName}: VPC, NAT, endpoints, flow logs`,
  });
  const data = new DataStack(app, `${prefix}-Data`, {
    stackName: `${prefix}-Data`,
    env,
    config,
    vpc: network.vpc,
    description: `Plinth ${config.envName}: PostgreSQL, Redis, S3, KMS, secrets (stateful)`,
  });
  const appStack = new AppStack(app, `${prefix}-App`, {
    stackName: `${prefix}-App`,
    env,
    config,
    vpc: network.vpc,
    data,
    ...(config.wafExemptNat ? { loadTestAddresses: network.natPublicIps } : {}),
    ...(options.imageDirectory ? { imageDirectory: options.imageDirectory } : {}),
    description: `Plinth ${config.envName}: ECS API + worker, ALB, WAF, migrations, alarms`,
  });
  for (const stack of [network, data, appStack]) {
    Tags.of(stack).add('Project', 'plinth');
    Tags.of(stack).add('Environment', config.envName);
  }
  for (const stack of [network, data]) {
    Validations.of(stack).acknowledge({
      id: 'CloudFormation-Validate::W3010',
      reason:
        'Availability zones are explicit per-environment config by design: synthesis is offline and deterministic, with no AZ lookup.',
    });
  }
  return { network, data, app: appStack };
}
