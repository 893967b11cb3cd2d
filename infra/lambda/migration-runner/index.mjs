// Lambda entry point (Node.js 24 runtime, which ships the AWS SDK v3). Invoked synchronously by the
// CDK Trigger during `cdk deploy`; throwing fails the deployment.
import { DescribeTasksCommand, ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { readSettings, runMigration } from './run-migration.mjs';

const ecs = new ECSClient({});

export const handler = async (_event, context) => {
  const settings = readSettings(process.env);
  // Leave 20 s to report the failure before Lambda's own timeout.
  const deadline = Date.now() + context.getRemainingTimeInMillis() - 20_000;
  return runMigration(
    {
      runTask: (input) => ecs.send(new RunTaskCommand(input)),
      describeTasks: (input) => ecs.send(new DescribeTasksCommand(input)),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      now: () => Date.now(),
      log: (message) => console.log(message),
    },
    settings,
    deadline,
  );
};
