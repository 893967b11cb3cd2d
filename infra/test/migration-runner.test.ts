// The migration runner's logic, with the ECS API (the external edge) replaced by a scripted fake.
import { describe, expect, it } from '@jest/globals';
import { readSettings, runMigration } from '../lambda/migration-runner/run-migration.mjs';
import type {
  EcsTask,
  EcsTasksResponse,
  MigrationDeps,
} from '../lambda/migration-runner/run-migration.d.mts';

const settings = readSettings({
  CLUSTER_ARN: 'arn:aws:ecs:us-east-1:111111111111:cluster/plinth',
  TASK_DEFINITION_ARN: 'arn:aws:ecs:us-east-1:111111111111:task-definition/migrate:7',
  SUBNET_IDS: 'subnet-a,subnet-b',
  SECURITY_GROUP_IDS: 'sg-1',
  POLL_INTERVAL_MS: '1000',
});
const TASK = 'arn:aws:ecs:us-east-1:111111111111:task/plinth/abc';

function fakeEcs(started: EcsTasksResponse, states: EcsTask[]) {
  let clock = 0;
  const calls: { runTask: Record<string, unknown>[]; describe: number } = {
    runTask: [],
    describe: 0,
  };
  const logs: string[] = [];
  const deps: MigrationDeps = {
    runTask: async (input) => {
      calls.runTask.push(input);
      return started;
    },
    describeTasks: async () => {
      const task = states[Math.min(calls.describe, states.length - 1)];
      calls.describe += 1;
      return { tasks: task ? [task] : [] };
    },
    sleep: async (ms) => {
      clock += ms;
    },
    now: () => clock,
    log: (m) => logs.push(m),
  };
  return { deps, calls, logs };
}

const ok = (name: string) => ({ name, exitCode: 0 });

describe('runMigration', () => {
  it('runs the task in the private subnets without a public IP and succeeds when all containers exit 0', async () => {
    const { deps, calls } = fakeEcs({ tasks: [{ taskArn: TASK }] }, [
      { lastStatus: 'PROVISIONING' },
      { lastStatus: 'RUNNING' },
      { lastStatus: 'STOPPED', containers: [ok('DbBootstrap'), ok('Migrate')] },
    ]);
    await expect(runMigration(deps, settings, 60_000)).resolves.toEqual({ taskArn: TASK });
    expect(calls.describe).toBe(3);
    expect(calls.runTask[0]).toMatchObject({
      cluster: settings.cluster,
      taskDefinition: settings.taskDefinition,
      launchType: 'FARGATE',
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: ['subnet-a', 'subnet-b'],
          securityGroups: ['sg-1'],
          assignPublicIp: 'DISABLED',
        },
      },
    });
  });

  it('fails the deployment with the exit code when the migration exits non-zero', async () => {
    const { deps } = fakeEcs({ tasks: [{ taskArn: TASK }] }, [
      {
        lastStatus: 'STOPPED',
        stopCode: 'EssentialContainerExited',
        stoppedReason: 'Essential container in task exited',
        containers: [ok('DbBootstrap'), { name: 'Migrate', exitCode: 1 }],
      },
    ]);
    await expect(runMigration(deps, settings, 60_000)).rejects.toThrow(
      /migration failed — Migrate: exit 1; task stopped: EssentialContainerExited/,
    );
  });

  it('fails when a container never ran (no exit code), e.g. the bootstrap failed or the image could not be pulled', async () => {
    const { deps } = fakeEcs({ tasks: [{ taskArn: TASK }] }, [
      {
        lastStatus: 'STOPPED',
        stoppedReason: 'CannotPullContainerError',
        containers: [
          { name: 'DbBootstrap', exitCode: 2 },
          { name: 'Migrate', reason: 'dependency failed' },
        ],
      },
    ]);
    await expect(runMigration(deps, settings, 60_000)).rejects.toThrow(
      /DbBootstrap: exit 2, Migrate: exit none \(dependency failed\).*CannotPullContainerError/,
    );
  });

  it('fails when ECS cannot place the task', async () => {
    const { deps } = fakeEcs({ tasks: [], failures: [{ reason: 'RESOURCE:ENI' }] }, []);
    await expect(runMigration(deps, settings, 60_000)).rejects.toThrow(
      /RunTask for the migration failed: RESOURCE:ENI/,
    );
  });

  it('gives up before the Lambda times out and says the task may still be running', async () => {
    const { deps } = fakeEcs({ tasks: [{ taskArn: TASK }] }, [{ lastStatus: 'RUNNING' }]);
    await expect(runMigration(deps, settings, 5_000)).rejects.toThrow(/did not stop in time/);
  });

  it('rejects missing settings with the variable name', () => {
    expect(() => readSettings({})).toThrow('missing environment variable CLUSTER_ARN');
  });
});
