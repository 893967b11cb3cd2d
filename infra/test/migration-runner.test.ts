// The migration deploy step's handlers, with Step Functions (the external edge) replaced by a
// scripted fake; the state machine itself is checked in platform.test.ts.
import { describe, expect, it } from '@jest/globals';
import {
  PHYSICAL_ID,
  checkExecution,
  startMigration,
} from '../lambda/migration-runner/deploy-step.mjs';
import type { DeployStepDeps, DeployStepEvent } from '../lambda/migration-runner/deploy-step.d.mts';

const SM = 'arn:aws:states:us-east-1:111111111111:stateMachine:migrate';
const EXECUTION = 'arn:aws:states:us-east-1:111111111111:execution:migrate:update-1';

function fakeSfn(statuses: { status: string; error?: string; cause?: string }[] = []) {
  const started: Parameters<DeployStepDeps['startExecution']>[0][] = [];
  let described = 0;
  const deps: DeployStepDeps = {
    startExecution: async (input) => {
      started.push(input);
      return { executionArn: EXECUTION };
    },
    describeExecution: async () => statuses[Math.min(described++, statuses.length - 1)] ?? {},
    log: () => undefined,
  };
  return { deps, started };
}

const event = (RequestType: DeployStepEvent['RequestType']): DeployStepEvent => ({
  RequestType,
  RequestId: '5d1e2f00-1111-2222-3333-444455556666',
  PhysicalResourceId: PHYSICAL_ID,
  ResourceProperties: { StateMachineArn: SM, ImageVersion: 'abc123' },
});

describe('migration deploy step', () => {
  it.each(['Create', 'Update'] as const)(
    'on %s (a deploy, or a rollback with the previous image) starts one execution named after the request',
    async (type) => {
      const { deps, started } = fakeSfn();
      const result = await startMigration(event(type), deps);
      expect(started).toEqual([
        {
          stateMachineArn: SM,
          name: `${type.toLowerCase()}-5d1e2f00-1111-2222-3333-444455556666`,
          input: JSON.stringify({ imageVersion: 'abc123', requestType: type }),
        },
      ]);
      // The same physical id every time: an update never turns into a replacement + delete.
      expect(result).toEqual({
        PhysicalResourceId: PHYSICAL_ID,
        Data: { ExecutionArn: EXECUTION },
      });
    },
  );

  it('on Delete starts nothing (forward-only: migrations are never undone)', async () => {
    const { deps, started } = fakeSfn();
    expect(await startMigration(event('Delete'), deps)).toEqual({
      PhysicalResourceId: PHYSICAL_ID,
    });
    expect(started).toEqual([]);
    expect(await checkExecution(event('Delete'), deps)).toEqual({ IsComplete: true });
  });

  it('keeps waiting while the execution runs, however long, and completes when it succeeds', async () => {
    const { deps } = fakeSfn([
      { status: 'RUNNING' },
      { status: 'RUNNING' },
      { status: 'SUCCEEDED' },
    ]);
    const polled = { ...event('Update'), Data: { ExecutionArn: EXECUTION } };
    expect(await checkExecution(polled, deps)).toEqual({ IsComplete: false });
    expect(await checkExecution(polled, deps)).toEqual({ IsComplete: false });
    expect(await checkExecution(polled, deps)).toEqual({ IsComplete: true });
  });

  it.each(['FAILED', 'TIMED_OUT', 'ABORTED'])(
    'fails the deployment when the execution ends %s, with the cause',
    async (status) => {
      const { deps } = fakeSfn([
        {
          status,
          error: 'MigrationFailed',
          cause: 'containers: [{"name":"Migrate","exitCode":1}]',
        },
      ]);
      await expect(
        checkExecution({ ...event('Create'), Data: { ExecutionArn: EXECUTION } }, deps),
      ).rejects.toThrow(new RegExp(`migration ${status}: MigrationFailed .*"exitCode":1`));
    },
  );
});
