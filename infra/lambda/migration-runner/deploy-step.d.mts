/** The parts of a provider-framework event the deploy step reads. */
export interface DeployStepEvent {
  RequestType: 'Create' | 'Update' | 'Delete';
  RequestId: string;
  PhysicalResourceId?: string;
  ResourceProperties: { StateMachineArn?: string; ImageVersion?: string };
}

/** The Step Functions calls (the AWS edge), injected. */
export interface DeployStepDeps {
  startExecution(input: {
    stateMachineArn: string;
    name: string;
    input: string;
  }): Promise<{ executionArn?: string }>;
  describeExecution(input: {
    executionArn: string;
  }): Promise<{ status?: string; error?: string; cause?: string }>;
  log(message: string): void;
}

export const PHYSICAL_ID: string;
export function startMigration(
  event: DeployStepEvent,
  deps: DeployStepDeps,
): Promise<{ PhysicalResourceId: string; Data?: { ExecutionArn?: string } }>;
export function checkExecution(
  event: DeployStepEvent & { Data?: { ExecutionArn?: string } },
  deps: DeployStepDeps,
): Promise<{ IsComplete: boolean }>;
