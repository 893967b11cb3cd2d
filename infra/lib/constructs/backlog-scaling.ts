import { Duration } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct } from 'constructs';
import {
  APP_METRICS_NAMESPACE,
  QUEUE_BACKLOG_METRIC,
  appMetric,
  runningTaskCount,
} from './observability.js';

/** Props for {@link BacklogScaling}. */
export interface BacklogScalingProps {
  /** The worker service to scale. */
  readonly service: ecs.FargateService;
  /** Environment name: the `Environment` dimension of `Plinth/QueueBacklog`. */
  readonly envName: string;
  /** Fewest tasks; ≥ 1, because the worker itself publishes the backlog. */
  readonly minTasks: number;
  /** Most tasks. */
  readonly maxTasks: number;
  /** Waiting jobs (runnable now) one task should have at most. */
  readonly backlogPerTaskTarget: number;
  /** CPU safety-net target, percent (with `perTask` only). @default 75 */
  readonly cpuTargetPercent?: number;
  /**
   * Track backlog **per running task** (metric math over the Container Insights
   * `RunningTaskCount`) with a CPU safety net. Without Container Insights there is nothing to
   * divide by: step scaling on the absolute backlog instead (add a task at one task's target, remove
   * one at half of it; no CPU policy beside it, because step and target-tracking policies are not
   * coordinated and would fight). @default true
   */
  readonly perTask?: boolean;
}

/** Scales a worker service on `Plinth/QueueBacklog` (waiting jobs of all queues). */
export class BacklogScaling extends Construct {
  /** The scalable task count (scheduled actions go here too). */
  public readonly taskCount: ecs.ScalableTaskCount;

  constructor(scope: Construct, id: string, props: BacklogScalingProps) {
    super(scope, id);
    if (props.minTasks < 1) {
      throw new Error(`${id}: minTasks must be ≥ 1 (the worker publishes the backlog metric)`);
    }
    if (props.maxTasks < props.minTasks) throw new Error(`${id}: maxTasks must be ≥ minTasks`);
    if (props.backlogPerTaskTarget <= 0) throw new Error(`${id}: backlogPerTaskTarget must be > 0`);

    this.taskCount = props.service.autoScaleTaskCount({
      minCapacity: props.minTasks,
      maxCapacity: props.maxTasks,
    });
    const target = props.backlogPerTaskTarget;
    if (props.perTask ?? true) {
      this.taskCount.scaleOnCpuUtilization('CpuSafetyNet', {
        targetUtilizationPercent: props.cpuTargetPercent ?? 75,
        scaleInCooldown: Duration.minutes(5),
        scaleOutCooldown: Duration.minutes(1),
      });
      // Target tracking cannot scale below minCapacity, so an idle queue leaves min workers running.
      const tasks = runningTaskCount(props.service);
      const scalableTarget = this.taskCount.node.findChild('Target') as appscaling.ScalableTarget;
      new appscaling.CfnScalingPolicy(this, 'PerTask', {
        policyName: `plinth-${props.envName}-worker-backlog-per-task`,
        policyType: 'TargetTrackingScaling',
        scalingTargetId: scalableTarget.scalableTargetId,
        targetTrackingScalingPolicyConfiguration: {
          targetValue: target,
          scaleInCooldown: 300,
          scaleOutCooldown: 60,
          customizedMetricSpecification: {
            metrics: [
              {
                id: 'backlog',
                label: 'Queue backlog (waiting jobs)',
                returnData: false,
                metricStat: {
                  metric: {
                    namespace: APP_METRICS_NAMESPACE,
                    metricName: QUEUE_BACKLOG_METRIC,
                    dimensions: [{ name: 'Environment', value: props.envName }],
                  },
                  stat: 'Average',
                },
              },
              {
                id: 'tasks',
                label: 'Running worker tasks',
                returnData: false,
                metricStat: {
                  metric: {
                    namespace: tasks.namespace,
                    metricName: tasks.metricName,
                    dimensions: Object.entries(tasks.dimensions ?? {}).map(([name, value]) => ({
                      name,
                      value: String(value),
                    })),
                  },
                  stat: 'Average',
                },
              },
              {
                id: 'backlogPerTask',
                label: 'Backlog per running worker task',
                expression: 'IF(tasks > 0, backlog / tasks, backlog)',
                returnData: true,
              },
            ],
          },
        },
      });
    } else {
      this.taskCount.scaleOnMetric('Steps', {
        metric: appMetric(QUEUE_BACKLOG_METRIC, props.envName, 'Maximum'),
        scalingSteps: [
          { upper: Math.floor(target / 2), change: -1 },
          { lower: target, change: +1 },
        ],
        adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
        evaluationPeriods: 3,
        cooldown: Duration.minutes(3),
      });
    }
  }
}
