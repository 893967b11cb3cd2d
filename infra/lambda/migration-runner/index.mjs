// Provider-framework handlers (Node.js 24 runtime, which ships the AWS SDK v3) of the migration
// deploy step: onEvent starts the state machine, isComplete polls the execution. Pure logic in
// deploy-step.mjs, unit-tested without AWS.
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { checkExecution, startMigration } from './deploy-step.mjs';

const sfn = new SFNClient({});
const deps = {
  startExecution: (input) => sfn.send(new StartExecutionCommand(input)),
  describeExecution: (input) => sfn.send(new DescribeExecutionCommand(input)),
  log: (message) => console.log(message),
};

export const onEvent = (event) => startMigration(event, deps);
export const isComplete = (event) => checkExecution(event, deps);
