/** Settings read from the Lambda environment. */
export interface MigrationSettings {
  cluster: string;
  taskDefinition: string;
  subnets: string[];
  securityGroups: string[];
  pollIntervalMs: number;
}

/** Subset of ECS RunTask / DescribeTasks shapes the runner uses. */
export interface EcsContainer {
  name?: string;
  exitCode?: number;
  reason?: string;
}
export interface EcsTask {
  taskArn?: string;
  lastStatus?: string;
  stopCode?: string;
  stoppedReason?: string;
  containers?: EcsContainer[];
}
export interface EcsFailure {
  arn?: string;
  reason?: string;
  detail?: string;
}
export interface EcsTasksResponse {
  tasks?: EcsTask[];
  failures?: EcsFailure[];
}

/** Injected side effects. */
export interface MigrationDeps {
  runTask(input: Record<string, unknown>): Promise<EcsTasksResponse>;
  describeTasks(input: { cluster: string; tasks: string[] }): Promise<EcsTasksResponse>;
  sleep(ms: number): Promise<void>;
  now(): number;
  log(message: string): void;
}

export function readSettings(env: Record<string, string | undefined>): MigrationSettings;
export function runMigration(
  deps: MigrationDeps,
  settings: MigrationSettings,
  deadlineMs: number,
): Promise<{ taskArn: string }>;
