import { RemovalPolicy } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { FargateWorkload } from './fargate-workload.js';

/** The AWS Distro for OpenTelemetry collector image (public ECR, pinned). */
export const ADOT_IMAGE = 'public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3';
/** Name of the sidecar container in the API and worker task definitions. */
export const OTEL_CONTAINER = 'OtelCollector';
/** CloudWatch namespace of the metrics the collector scrapes from METRICS_PORT. */
export const SCRAPED_METRICS_NAMESPACE = 'Plinth/App';
/**
 * The scraped series that become CloudWatch metrics (the rest stay in the EMF log lines, queryable
 * with Logs Insights at no metric cost): a few per process, so the custom-metric bill stays flat.
 */
export const EMF_METRICS = [
  'http_requests_total',
  'http_request_duration_seconds',
  'db_pool_connections',
  'db_pool_waiting_requests',
  'nodejs_eventloop_lag_seconds',
  'plinth_queue_jobs',
  'plinth_jobs_failed_total',
  'plinth_job_wait_seconds',
] as const;

/** Props for {@link OtelCollector}. */
export interface OtelCollectorProps {
  /** The workload whose task gets the sidecar. */
  readonly workload: FargateWorkload;
  /** `service.name` of the process (`plinth-api`, `plinth-worker`). */
  readonly serviceName: string;
  /** Environment name (metric dimension). */
  readonly envName: string;
  /** Port the app serves Prometheus metrics on inside the task (METRICS_PORT). */
  readonly metricsPort: number;
  /** Share of traces kept, 0–1 (OTEL_TRACES_SAMPLER_ARG of parentbased_traceidratio). */
  readonly traceSampleRatio: number;
  /** Days the EMF metric logs are kept. */
  readonly logRetention: logs.RetentionDays;
  /**
   * Turn the EMF_METRICS series into CloudWatch metrics; false keeps them only as EMF log lines
   * (Logs Insights), at no metric cost. @default true
   */
  readonly cloudWatchMetrics?: boolean;
  /** Keep the EMF log group when the stack is deleted. @default false */
  readonly retainLogs?: boolean;
}

/** The collector's configuration (YAML is a superset of JSON, so JSON is valid YAML). */
export function collectorConfig(props: {
  serviceName: string;
  envName: string;
  metricsPort: number;
  logGroupName: string;
  cloudWatchMetrics?: boolean;
}): string {
  return JSON.stringify({
    receivers: {
      otlp: { protocols: { http: { endpoint: '127.0.0.1:4318' } } },
      prometheus: {
        config: {
          scrape_configs: [
            {
              job_name: props.serviceName,
              scrape_interval: '60s',
              // The dimensions CloudWatch keeps; every other label stays in the EMF log line.
              static_configs: [
                {
                  targets: [`127.0.0.1:${props.metricsPort}`],
                  labels: { Environment: props.envName, Service: props.serviceName },
                },
              ],
            },
          ],
        },
      },
    },
    processors: {
      batch: { timeout: '5s' },
      resourcedetection: { detectors: ['env', 'ecs'], timeout: '2s', override: false },
    },
    exporters: {
      awsxray: { index_all_attributes: false },
      awsemf: {
        namespace: SCRAPED_METRICS_NAMESPACE,
        log_group_name: props.logGroupName,
        dimension_rollup_option: 'NoDimensionRollup',
        resource_to_telemetry_conversion: { enabled: false },
        metric_declarations:
          props.cloudWatchMetrics === false
            ? []
            : [
                {
                  dimensions: [['Environment', 'Service']],
                  metric_name_selectors: EMF_METRICS.map((m) => `^${m}`),
                },
              ],
      },
    },
    extensions: { health_check: {} },
    service: {
      extensions: ['health_check'],
      pipelines: {
        traces: {
          receivers: ['otlp'],
          processors: ['resourcedetection', 'batch'],
          exporters: ['awsxray'],
        },
        metrics: {
          receivers: ['prometheus'],
          processors: ['batch'],
          exporters: ['awsemf'],
        },
      },
    },
  });
}

/**
 * The ADOT collector as a sidecar of one workload's task: the app exports traces over OTLP/HTTP
 * to it on localhost (OTEL_EXPORTER_OTLP_ENDPOINT), it forwards them to X-Ray; it scrapes the
 * app's METRICS_PORT every 60 s and writes CloudWatch embedded-metric-format logs, of which the
 * EMF_METRICS series become metrics in `Plinth/App`. Not essential: a collector crash never stops
 * the app (telemetry is lost, requests are not). Least privilege: X-Ray writes (no resource-level
 * permissions exist for them) and log writes to its own EMF log group only.
 */
export class OtelCollector extends Construct {
  /** The sidecar container. */
  public readonly container: ecs.ContainerDefinition;
  /** Where the EMF metric lines go. */
  public readonly metricsLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: OtelCollectorProps) {
    super(scope, id);
    if (!(props.traceSampleRatio >= 0 && props.traceSampleRatio <= 1)) {
      throw new Error(`${id}: traceSampleRatio must be within 0–1, got ${props.traceSampleRatio}`);
    }
    const { workload } = props;
    this.metricsLogGroup = new logs.LogGroup(this, 'MetricsLogs', {
      retention: props.logRetention,
      removalPolicy: props.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const config = collectorConfig({
      serviceName: props.serviceName,
      envName: props.envName,
      metricsPort: props.metricsPort,
      logGroupName: this.metricsLogGroup.logGroupName,
      ...(props.cloudWatchMetrics === false ? { cloudWatchMetrics: false } : {}),
    });
    this.container = workload.taskDefinition.addContainer(OTEL_CONTAINER, {
      image: ecs.ContainerImage.fromRegistry(ADOT_IMAGE),
      essential: false,
      command: ['--config=env:AOT_CONFIG_CONTENT'],
      environment: { AOT_CONFIG_CONTENT: config },
      // Out of the task's size: the app keeps what it had minus this reservation at most.
      memoryReservationMiB: 64,
      cpu: 64,
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'otel', logGroup: workload.logGroup }),
    });
    // Traces leave the app only when the collector is there to take them.
    workload.container.addContainerDependencies({
      container: this.container,
      condition: ecs.ContainerDependencyCondition.START,
    });
    workload.container.addEnvironment('OTEL_EXPORTER_OTLP_ENDPOINT', 'http://127.0.0.1:4318');
    workload.container.addEnvironment('OTEL_SERVICE_NAME', props.serviceName);
    workload.container.addEnvironment('OTEL_TRACES_SAMPLER', 'parentbased_traceidratio');
    workload.container.addEnvironment('OTEL_TRACES_SAMPLER_ARG', String(props.traceSampleRatio));

    const role = workload.taskDefinition.taskRole;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'xray:PutTraceSegments',
          'xray:PutTelemetryRecords',
          'xray:GetSamplingRules',
          'xray:GetSamplingTargets',
        ],
        resources: ['*'],
      }),
    );
    this.metricsLogGroup.grantWrite(role);
  }
}
