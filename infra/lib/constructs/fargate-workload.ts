import type { Duration } from 'aws-cdk-lib';
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FARGATE_SIZES } from '../config.js';

/** Name of the container that runs the app image in every Plinth task definition. */
export const APP_CONTAINER = 'App';

/** Props for {@link FargateWorkload}. */
export interface FargateWorkloadProps {
  /** Cluster the service runs in (with the Fargate capacity providers enabled). */
  readonly cluster: ecs.Cluster;
  /** The application image. */
  readonly image: ecs.ContainerImage;
  /** Process to run: the image's command (`service`, `worker`). */
  readonly command: string;
  /** Task CPU units (256 = 0.25 vCPU). */
  readonly cpu: number;
  /** Task memory, MiB; must fit the CPU size. */
  readonly memoryLimitMiB: number;
  /** Plain environment variables of the container. @default none */
  readonly environment?: Record<string, string>;
  /** Environment variables injected from Secrets Manager. @default none */
  readonly secrets?: Record<string, ecs.Secret>;
  /** Ports the container listens on, by name. @default none */
  readonly ports?: Record<string, number>;
  /** Time the container gets between SIGTERM and SIGKILL (Fargate maximum 120 s). */
  readonly stopTimeout: Duration;
  /** Days the container's logs are kept. */
  readonly logRetention: logs.RetentionDays;
  /** Keep the log group when the stack is deleted. @default false */
  readonly retainLogs?: boolean;
  /**
   * Share of tasks on Fargate Spot, 0–100. Between 0 and 100 the first task is on demand, so a
   * Spot reclaim never stops every task. @default 0 (all on demand)
   */
  readonly spotPercent?: number;
  /** Allow `aws ecs execute-command` into the tasks. @default false */
  readonly enableExecuteCommand?: boolean;
  /** Seconds the service ignores failing load balancer health checks after a task starts. @default none */
  readonly healthCheckGracePeriod?: Duration;
  /** What the tasks' security group is for (its description). */
  readonly description: string;
  /** Resources the tasks connect to on their default port (database, Redis groups). @default none */
  readonly reaches?: readonly ec2.IConnectable[];
}

/**
 * One long-running process of the app image on Fargate: task definition with one `App` container,
 * its log group and security group (with access to the data stores it reaches), and the service,
 * deployed rolling at 100/200 % with the circuit breaker rolling back a deployment that does not
 * become healthy. The API and the worker are two of these.
 */
export class FargateWorkload extends Construct {
  /** The task definition. */
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The `App` container. */
  public readonly container: ecs.ContainerDefinition;
  /** The container's log group. */
  public readonly logGroup: logs.LogGroup;
  /** The tasks' security group. */
  public readonly securityGroup: ec2.SecurityGroup;
  /** The ECS service. */
  public readonly service: ecs.FargateService;

  constructor(scope: Construct, id: string, props: FargateWorkloadProps) {
    super(scope, id);
    const spot = props.spotPercent ?? 0;
    const memory = FARGATE_SIZES[props.cpu];
    if (!memory) {
      throw new Error(`${id}: cpu ${props.cpu} is not a Fargate size (256, 512, 1024, 2048, 4096)`);
    }
    if (props.memoryLimitMiB < memory[0] || props.memoryLimitMiB > memory[1]) {
      throw new Error(
        `${id}: memoryLimitMiB ${props.memoryLimitMiB} does not fit cpu ${props.cpu} (${memory[0]}–${memory[1]})`,
      );
    }
    if (!Number.isInteger(spot) || spot < 0 || spot > 100) {
      throw new Error(`${id}: spotPercent must be an integer 0–100, got ${spot}`);
    }
    if (props.stopTimeout.toSeconds() > 120) {
      throw new Error(`${id}: stopTimeout is at most 120 s on Fargate`);
    }

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: props.cpu,
      memoryLimitMiB: props.memoryLimitMiB,
      // x86: Fargate Spot has no ARM capacity.
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.container = this.taskDefinition.addContainer(APP_CONTAINER, {
      image: props.image,
      command: [props.command],
      essential: true,
      environment: props.environment ?? {},
      secrets: props.secrets ?? {},
      portMappings: Object.entries(props.ports ?? {}).map(([name, containerPort]) => ({
        name,
        containerPort,
      })),
      stopTimeout: props.stopTimeout,
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: id, logGroup: this.logGroup }),
    });

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.cluster.vpc,
      description: props.description,
    });
    Validations.of(this.securityGroup).acknowledge({
      id: 'Annotation::@aws-cdk/aws-ec2:ipv4IgnoreEgressRule',
      reason:
        'Tasks need all outbound (ECR, Secrets Manager, CloudWatch, SES); the explicit egress to PostgreSQL/Redis is implied.',
    });
    for (const target of props.reaches ?? []) {
      this.securityGroup.connections.allowToDefaultPort(target, `${id} tasks`);
    }

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: props.cluster,
      taskDefinition: this.taskDefinition,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [this.securityGroup],
      assignPublicIp: false,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      enableExecuteCommand: props.enableExecuteCommand ?? false,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      ...(props.healthCheckGracePeriod
        ? { healthCheckGracePeriod: props.healthCheckGracePeriod }
        : {}),
      capacityProviderStrategies:
        spot === 0 || spot === 100
          ? [{ capacityProvider: spot === 0 ? 'FARGATE' : 'FARGATE_SPOT', weight: 1 }]
          : [
              { capacityProvider: 'FARGATE', weight: 100 - spot, base: 1 },
              { capacityProvider: 'FARGATE_SPOT', weight: spot },
            ],
    });
    // A service with a capacity-provider strategy fails to create while the cluster's
    // capacity-provider association is still being created, and CloudFormation orders them only
    // when told. The association is added to the cluster at synthesis (by an aspect), so depend on
    // the whole cluster construct, which includes it then.
    this.service.node.addDependency(props.cluster);
  }
}
