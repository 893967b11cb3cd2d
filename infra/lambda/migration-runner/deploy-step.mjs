// The migration deploy step's logic. CloudFormation sends Create/Update when the image (or the
// migrate task definition) changes, and also during a rollback, with the previous image: that run
// is a no-op on a database that is ahead (forward-only migrations), so a rollback never fails here.

/** Physical id of the deploy step: constant, so an update never looks like a replacement. */
export const PHYSICAL_ID = 'plinth-migrations';

/**
 * @param {import('./deploy-step.d.mts').DeployStepEvent} event
 * @param {import('./deploy-step.d.mts').DeployStepDeps} deps
 */
export async function startMigration(event, deps) {
  if (event.RequestType === 'Delete') {
    // Forward-only: removing the step (or the stack) never undoes a migration.
    return { PhysicalResourceId: event.PhysicalResourceId ?? PHYSICAL_ID };
  }
  const props = event.ResourceProperties;
  if (!props.StateMachineArn) throw new Error('StateMachineArn property missing');
  // StartExecution is idempotent for the same name and input: a retried request starts nothing new.
  const started = await deps.startExecution({
    stateMachineArn: props.StateMachineArn,
    name: `${event.RequestType.toLowerCase()}-${event.RequestId}`.slice(0, 80),
    input: JSON.stringify({ imageVersion: props.ImageVersion, requestType: event.RequestType }),
  });
  deps.log(`migration execution started: ${started.executionArn} (image ${props.ImageVersion})`);
  return { PhysicalResourceId: PHYSICAL_ID, Data: { ExecutionArn: started.executionArn } };
}

/**
 * @param {import('./deploy-step.d.mts').DeployStepEvent & { Data?: { ExecutionArn?: string } }} event
 * @param {import('./deploy-step.d.mts').DeployStepDeps} deps
 */
export async function checkExecution(event, deps) {
  if (event.RequestType === 'Delete') return { IsComplete: true };
  const executionArn = event.Data?.ExecutionArn;
  if (!executionArn) throw new Error('no ExecutionArn from onEvent');
  const execution = await deps.describeExecution({ executionArn });
  switch (execution.status) {
    case 'RUNNING':
    case 'PENDING_REDRIVE':
      return { IsComplete: false };
    case 'SUCCEEDED':
      deps.log(`migration execution succeeded: ${executionArn}`);
      return { IsComplete: true };
    default:
      throw new Error(
        `migration ${execution.status ?? 'UNKNOWN'}: ${execution.error ?? ''} ` +
          `${(execution.cause ?? '').slice(0, 800)} (${executionArn}; logs: the Migrate log group)`,
      );
  }
}
