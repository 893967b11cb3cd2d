import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';

/** Namespace and dimension the platform's scaling policies and alarms read (architecture doc). */
export const METRICS_NAMESPACE = 'Plinth';

export interface WorkerMetrics {
  /** Waiting jobs (runnable now) across all queues, a gauge; not delayed or repeatable ones. */
  queueBacklog: number;
  /** Jobs that failed for good since the previous publish (a count). */
  failedJobs: number;
  /** Waiting jobs per queue: `QueueBacklog` again with a `Queue` dimension. @default none */
  queueBacklogByQueue?: Record<string, number>;
}

/** Where the worker's metrics go; the AWS API is the one edge tests replace. */
export interface MetricsSink {
  publish(metrics: WorkerMetrics): Promise<void>;
}

/**
 * The PutMetricData input for one publish: `Plinth/QueueBacklog` and `Plinth/FailedJobs` with the
 * `Environment` dimension (what scaling and alarms read), then `QueueBacklog` per queue with
 * `Environment` and `Queue` (CloudWatch keeps each dimension set as its own series).
 */
export function putMetricDataInput(metrics: WorkerMetrics, environment: string, at = new Date()) {
  const dimensions = [{ Name: 'Environment', Value: environment }];
  return {
    Namespace: METRICS_NAMESPACE,
    MetricData: [
      {
        MetricName: 'QueueBacklog',
        Value: metrics.queueBacklog,
        Unit: 'Count' as const,
        Dimensions: dimensions,
        Timestamp: at,
      },
      {
        MetricName: 'FailedJobs',
        Value: metrics.failedJobs,
        Unit: 'Count' as const,
        Dimensions: dimensions,
        Timestamp: at,
      },
      ...Object.entries(metrics.queueBacklogByQueue ?? {}).map(([queue, value]) => ({
        MetricName: 'QueueBacklog',
        Value: value,
        Unit: 'Count' as const,
        Dimensions: [...dimensions, { Name: 'Queue', Value: queue }],
        Timestamp: at,
      })),
    ],
  };
}

/** Publishes to CloudWatch (region and credentials from the task's environment and role). */
export function cloudWatchSink(
  environment: string,
  send: (command: PutMetricDataCommand) => Promise<unknown> = (() => {
    const client = new CloudWatchClient({});
    return (command: PutMetricDataCommand) => client.send(command);
  })(),
): MetricsSink {
  return {
    async publish(metrics) {
      await send(new PutMetricDataCommand(putMetricDataInput(metrics, environment)));
    },
  };
}
