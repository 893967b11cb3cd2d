// Runs the one-off migration task on Fargate, waits for it to stop and fails unless every
// container exited 0. Pure logic: the AWS SDK calls are injected (see index.mjs), so this module
// is unit-tested without AWS.

/**
 * Reads the runner settings from the Lambda environment.
 * @param {Record<string, string | undefined>} env
 */
export function readSettings(env) {
  const need = (name) => {
    const value = env[name];
    if (!value) throw new Error(`missing environment variable ${name}`);
    return value;
  };
  return {
    cluster: need('CLUSTER_ARN'),
    taskDefinition: need('TASK_DEFINITION_ARN'),
    subnets: need('SUBNET_IDS').split(','),
    securityGroups: need('SECURITY_GROUP_IDS').split(','),
    pollIntervalMs: Number(env.POLL_INTERVAL_MS ?? '10000'),
  };
}

/**
 * @param {import('./run-migration.d.mts').MigrationDeps} deps
 * @param {import('./run-migration.d.mts').MigrationSettings} settings
 * @param {number} deadlineMs epoch ms after which we give up (before Lambda's own timeout)
 */
export async function runMigration(deps, settings, deadlineMs) {
  const started = await deps.runTask({
    cluster: settings.cluster,
    taskDefinition: settings.taskDefinition,
    launchType: 'FARGATE',
    count: 1,
    startedBy: 'plinth-migrate-on-deploy',
    propagateTags: 'TASK_DEFINITION',
    networkConfiguration: {
      awsvpcConfiguration: {
        subnets: settings.subnets,
        securityGroups: settings.securityGroups,
        assignPublicIp: 'DISABLED',
      },
    },
  });
  const failures = started.failures ?? [];
  const taskArn = started.tasks?.[0]?.taskArn;
  if (failures.length > 0 || !taskArn) {
    const why = failures.map((f) => `${f.arn ?? ''} ${f.reason ?? ''} ${f.detail ?? ''}`.trim());
    throw new Error(`RunTask for the migration failed: ${why.join('; ') || 'no task started'}`);
  }
  deps.log(`migration task started: ${taskArn}`);

  for (;;) {
    if (deps.now() + settings.pollIntervalMs > deadlineMs) {
      throw new Error(
        `migration task ${taskArn} did not stop in time; it may still be running — check its logs ` +
          'and re-run the deployment once it has finished',
      );
    }
    await deps.sleep(settings.pollIntervalMs);
    const described = await deps.describeTasks({ cluster: settings.cluster, tasks: [taskArn] });
    const task = described.tasks?.[0];
    if (!task) throw new Error(`migration task ${taskArn} not found by DescribeTasks`);
    if (task.lastStatus !== 'STOPPED') {
      deps.log(`migration task ${task.lastStatus ?? 'UNKNOWN'}`);
      continue;
    }
    const containers = task.containers ?? [];
    const bad = containers.filter((c) => c.exitCode !== 0);
    if (containers.length === 0 || bad.length > 0) {
      const detail = bad
        .map((c) => `${c.name}: exit ${c.exitCode ?? 'none'}${c.reason ? ` (${c.reason})` : ''}`)
        .join(', ');
      throw new Error(
        `migration failed — ${detail || 'no containers'}; task stopped: ` +
          `${task.stopCode ?? ''} ${task.stoppedReason ?? ''}`.trim() +
          ` (${taskArn})`,
      );
    }
    deps.log(`migration task ${taskArn} succeeded`);
    return { taskArn };
  }
}
