import { Duration, Fn } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { RedisGroup } from './redis-group.js';

/** Namespace of the metrics the worker publishes. */
export const APP_METRICS_NAMESPACE = 'Plinth';
/** Waiting jobs (runnable now) over all queues, a gauge; not delayed retries or repeatable jobs. */
export const QUEUE_BACKLOG_METRIC = 'QueueBacklog';
/** Jobs that failed after exhausting their retries. */
export const FAILED_JOBS_METRIC = 'FailedJobs';

/**
 * The API's service-level objectives (docs/slo.md), over 30 days, measured at the load balancer:
 * availability = requests not answered 5xx (target or ALB); latency = requests answered within
 * `latencySeconds` by the target.
 */
export const API_SLO = { availability: 0.999, latencySeconds: 1, latency: 0.99 } as const;

/**
 * Multi-window burn-rate alerting (Google SRE workbook): page when the error budget burns at
 * `burnRate`× its sustainable pace over the long window and still does over the short one (the
 * short window makes the alarm reset soon after the burn stops). 14.4× over 1 h spends 2 % of a
 * 30-day budget; 6× over 6 h spends 5 %.
 */
export const BURN_RATE_WINDOWS = [
  { name: 'Fast', burnRate: 14.4, longMinutes: 60, shortMinutes: 5 },
  { name: 'Slow', burnRate: 6, longMinutes: 360, shortMinutes: 30 },
] as const;

/** Builds a metric of the worker-published `Plinth` namespace for one environment. */
export function appMetric(metricName: string, envName: string, statistic: string): cw.Metric {
  return new cw.Metric({
    namespace: APP_METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { Environment: envName },
    statistic,
    period: Duration.minutes(1),
  });
}

/** Container Insights running-task count of a service. */
export function runningTaskCount(service: ecs.BaseService): cw.Metric {
  return new cw.Metric({
    namespace: 'ECS/ContainerInsights',
    metricName: 'RunningTaskCount',
    dimensionsMap: {
      ClusterName: service.cluster.clusterName,
      ServiceName: service.serviceName,
    },
    statistic: 'Average',
    period: Duration.minutes(1),
  });
}

/**
 * Running-task signal of a service without Container Insights: the free `AWS/ECS` CPUUtilization,
 * which ECS reports only while the service has RUNNING tasks — its SampleCount is ≥ 1 when at
 * least one task runs and the metric is missing when none does.
 */
export function taskPresence(service: ecs.BaseService): cw.Metric {
  return service.metricCpuUtilization({ statistic: 'SampleCount', period: Duration.minutes(1) });
}

/** Props for {@link Observability}. */
export interface ObservabilityProps {
  /** Environment name (dashboard name and metric dimension). */
  readonly envName: string;
  /**
   * Whether the cluster has Container Insights; without it, task counts come from
   * {@link taskPresence}. @default true
   */
  readonly containerInsights?: boolean;
  /**
   * SLO burn-rate alarms (docs/slo.md); an environment stopped outside office hours has no
   * availability objective to burn. @default true
   */
  readonly sloAlarms?: boolean;
  /** Create the dashboard `Plinth-<env>` ($3/month). @default true */
  readonly dashboard?: boolean;
  /** Subscribed to the alarm topic when set. @default no subscription */
  readonly alarmEmail?: string;
  /** The API load balancer. */
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** The API target group. */
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** The API service. */
  readonly apiService: ecs.FargateService;
  /** Minimum API tasks (healthy-host alarm threshold). */
  readonly apiMinTasks: number;
  /** The worker service. */
  readonly workerService: ecs.FargateService;
  /** Worker scaling limits and target, for the backlog alarm. */
  readonly worker: { readonly maxTasks: number; readonly backlogPerTaskTarget: number };
  /** The PostgreSQL primary. */
  readonly dbPrimary: rds.IDatabaseInstance;
  /** Read replicas. */
  readonly dbReplicas: readonly rds.IDatabaseInstance[];
  /** Allocated storage, GiB (free-storage alarm at 10 %). */
  readonly dbAllocatedStorageGiB: number;
  /** Connection count alarm threshold. */
  readonly dbMaxConnections: number;
  /** Queue Redis. */
  readonly queueRedis: RedisGroup;
  /** Cache Redis (same object as the queue when shared). */
  readonly cacheRedis: RedisGroup;
}

/**
 * CloudWatch dashboard and alarms (to one SNS topic) for every moving part: ALB latency and 5xx,
 * healthy hosts, ECS CPU/memory/task counts, RDS CPU/connections/free storage/replica lag, Redis
 * memory/evictions, queue backlog and failed jobs.
 */
export class Observability extends Construct {
  /** Alarm notifications. */
  public readonly topic: sns.Topic;
  /** The dashboard, unless turned off. */
  public readonly dashboard?: cw.Dashboard;
  /** Alarms by construct id. */
  public readonly alarms: Record<string, cw.Alarm> = {};
  /** SLO burn-rate alarms (composite: long and short window), by construct id. */
  public readonly burnRateAlarms: Record<string, cw.CompositeAlarm> = {};

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const oneMin = Duration.minutes(1);
    const fiveMin = Duration.minutes(5);
    const insights = props.containerInsights ?? true;
    const tasksOf = (service: ecs.BaseService) =>
      insights ? runningTaskCount(service) : taskPresence(service);

    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `Plinth ${props.envName} alarms`,
      enforceSSL: true,
    });
    if (props.alarmEmail) {
      this.topic.addSubscription(new subs.EmailSubscription(props.alarmEmail));
    }
    const action = new cwActions.SnsAction(this.topic);
    const alarm = (
      alarmId: string,
      metric: cw.IMetric,
      opts: Omit<cw.CreateAlarmOptions, 'metric'>,
    ) => {
      const a = new cw.Alarm(this, alarmId, { metric, ...opts });
      a.addAlarmAction(action);
      a.addOkAction(action);
      this.alarms[alarmId] = a;
      return a;
    };

    // --- API / ALB
    const lbm = props.loadBalancer.metrics;
    const latency = (stat: string) =>
      lbm.targetResponseTime({
        statistic: stat,
        period: oneMin,
        label: `TargetResponseTime ${stat}`,
      });
    const requests = lbm.requestCount({ period: fiveMin, statistic: 'Sum' });
    const target5xx = lbm.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, {
      period: fiveMin,
      statistic: 'Sum',
    });
    const elb5xx = lbm.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, {
      period: fiveMin,
      statistic: 'Sum',
    });
    const errorRate = new cw.MathExpression({
      expression: 'IF(req >= 20, 100 * (FILL(t5xx, 0) + FILL(e5xx, 0)) / req, 0)',
      usingMetrics: { req: requests, t5xx: target5xx, e5xx: elb5xx },
      label: '5xx % of requests',
      period: fiveMin,
    });
    alarm('Api5xxRate', errorRate, {
      alarmDescription: 'More than 5% of API requests answered 5xx (target or ALB) for 10 minutes',
      threshold: 5,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
    alarm('ApiLatencyP99', lbm.targetResponseTime({ statistic: 'p99', period: oneMin }), {
      alarmDescription: 'API p99 latency above 1.5 s in 3 of the last 5 minutes',
      threshold: 1.5,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
    // --- SLO burn rates, beside the threshold alarms above: one composite alarm per SLO and
    // window pair notifies; its two window alarms only feed it.
    const budgetBurn = (window: { longMinutes: number; shortMinutes: number }) => {
      const of = (minutes: number) => {
        const period = Duration.minutes(minutes);
        const req = lbm.requestCount({ period, statistic: 'Sum' });
        const t5xx = lbm.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, {
          period,
          statistic: 'Sum',
        });
        const e5xx = lbm.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period, statistic: 'Sum' });
        // Share of requests within the latency objective (percentile rank at the threshold).
        const fast = lbm.targetResponseTime({
          period,
          statistic: `PR(:${API_SLO.latencySeconds})`,
        });
        return {
          availability: new cw.MathExpression({
            expression: `IF(req > 0, (FILL(t5xx, 0) + FILL(e5xx, 0)) / req / ${round6(1 - API_SLO.availability)}, 0)`,
            usingMetrics: { req, t5xx, e5xx },
            label: `availability budget burn rate (${minutes} min)`,
            period,
          }),
          latency: new cw.MathExpression({
            expression: `IF(FILL(req, 0) > 0, (100 - FILL(fast, 100)) / 100 / ${round6(1 - API_SLO.latency)}, 0)`,
            usingMetrics: { req, fast },
            label: `latency budget burn rate (${minutes} min)`,
            period,
          }),
        };
      };
      return { long: of(window.longMinutes), short: of(window.shortMinutes) };
    };
    for (const window of props.sloAlarms === false ? [] : BURN_RATE_WINDOWS) {
      const burn = budgetBurn(window);
      for (const slo of ['availability', 'latency'] as const) {
        const sloName = slo === 'availability' ? 'Availability' : 'Latency';
        const windowAlarm = (which: 'long' | 'short', minutes: number) => {
          const a = new cw.Alarm(
            this,
            `Api${sloName}Burn${window.name}${which === 'long' ? 'Long' : 'Short'}`,
            {
              metric: burn[which][slo],
              alarmDescription: `API ${slo} error budget burning faster than ${window.burnRate}× over ${minutes} min`,
              threshold: window.burnRate,
              comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
              evaluationPeriods: 1,
              treatMissingData: cw.TreatMissingData.NOT_BREACHING,
            },
          );
          this.alarms[a.node.id] = a;
          return a;
        };
        const composite = new cw.CompositeAlarm(this, `Api${sloName}BurnRate${window.name}`, {
          alarmDescription:
            `API ${slo} SLO (${slo === 'availability' ? `${API_SLO.availability * 100}% non-5xx` : `${API_SLO.latency * 100}% within ${API_SLO.latencySeconds} s`}, 30 days): ` +
            `budget burning at > ${window.burnRate}× over ${window.longMinutes} min and ${window.shortMinutes} min (docs/slo.md)`,
          alarmRule: cw.AlarmRule.allOf(
            cw.AlarmRule.fromAlarm(windowAlarm('long', window.longMinutes), cw.AlarmState.ALARM),
            cw.AlarmRule.fromAlarm(windowAlarm('short', window.shortMinutes), cw.AlarmState.ALARM),
          ),
        });
        composite.addAlarmAction(action);
        composite.addOkAction(action);
        this.burnRateAlarms[composite.node.id] = composite;
      }
    }

    const healthy = props.targetGroup.metrics.healthyHostCount({
      period: oneMin,
      statistic: 'Minimum',
    });
    alarm('ApiHealthyHosts', healthy, {
      alarmDescription: `Fewer than ${props.apiMinTasks} healthy API targets (/health/ready) for 5 minutes`,
      threshold: props.apiMinTasks,
      comparisonOperator: cw.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 5,
      treatMissingData: cw.TreatMissingData.BREACHING,
    });

    // --- ECS
    const services = { Api: props.apiService, Worker: props.workerService };
    for (const [name, service] of Object.entries(services)) {
      alarm(`${name}CpuHigh`, service.metricCpuUtilization({ period: fiveMin }), {
        alarmDescription: `${name} average CPU above 85% for 15 minutes (scaling maxed out?)`,
        threshold: 85,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
      });
      alarm(`${name}MemoryHigh`, service.metricMemoryUtilization({ period: fiveMin }), {
        alarmDescription: `${name} average memory above 85% for 15 minutes (leak or undersized task)`,
        threshold: 85,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
      });
    }
    alarm('WorkerNoRunningTasks', tasksOf(props.workerService), {
      alarmDescription: 'No worker task running for 5 minutes: jobs are not processed',
      threshold: 1,
      comparisonOperator: cw.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 5,
      treatMissingData: cw.TreatMissingData.BREACHING,
    });

    // --- RDS
    const dbMetric = (metricName: string, instanceId: string, statistic = 'Average') =>
      new cw.Metric({
        namespace: 'AWS/RDS',
        metricName,
        dimensionsMap: { DBInstanceIdentifier: instanceId },
        statistic,
        period: fiveMin,
      });
    const primaryId = props.dbPrimary.instanceIdentifier;
    alarm('DbCpuHigh', dbMetric('CPUUtilization', primaryId), {
      alarmDescription: 'PostgreSQL primary CPU above 80% for 15 minutes',
      threshold: 80,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
    });
    alarm('DbConnectionsHigh', dbMetric('DatabaseConnections', primaryId, 'Maximum'), {
      alarmDescription: `PostgreSQL primary above ${props.dbMaxConnections} connections (pool sizes × tasks too high?)`,
      threshold: props.dbMaxConnections,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
    });
    const minFreeBytes = props.dbAllocatedStorageGiB * 1024 ** 3 * 0.1;
    alarm('DbFreeStorageLow', dbMetric('FreeStorageSpace', primaryId, 'Minimum'), {
      alarmDescription: 'PostgreSQL free storage below 10% of the allocated size',
      threshold: minFreeBytes,
      comparisonOperator: cw.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });
    props.dbReplicas.forEach((replica, i) => {
      alarm(`DbReplica${i + 1}Lag`, dbMetric('ReplicaLag', replica.instanceIdentifier, 'Maximum'), {
        alarmDescription: `Read replica ${i + 1} more than 30 s behind the primary for 10 minutes`,
        threshold: 30,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 2,
        treatMissingData: cw.TreatMissingData.BREACHING,
      });
    });

    // --- Redis (node 001 of each group; replicas mirror the primary's memory)
    const redisMetric = (group: RedisGroup, metricName: string, statistic: string) =>
      new cw.Metric({
        namespace: 'AWS/ElastiCache',
        metricName,
        dimensionsMap: { CacheClusterId: Fn.join('-', [group.replicationGroup.ref, '001']) },
        statistic,
        period: fiveMin,
      });
    const shared = props.queueRedis === props.cacheRedis;
    alarm(
      'QueueRedisMemoryHigh',
      redisMetric(props.queueRedis, 'DatabaseMemoryUsagePercentage', 'Maximum'),
      {
        alarmDescription:
          'Queue Redis memory above 75%: with noeviction, writes (new jobs) fail when it is full',
        threshold: 75,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 2,
      },
    );
    alarm('QueueRedisEvictions', redisMetric(props.queueRedis, 'Evictions', 'Sum'), {
      alarmDescription: 'Keys evicted from the queue Redis: Bull jobs may be lost (must stay 0)',
      threshold: 0,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });
    if (!shared) {
      alarm(
        'CacheRedisMemoryHigh',
        redisMetric(props.cacheRedis, 'DatabaseMemoryUsagePercentage', 'Maximum'),
        {
          alarmDescription: 'Cache Redis memory above 90% for 15 minutes (evicting hot keys)',
          threshold: 90,
          comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 3,
        },
      );
      alarm('CacheRedisEvictions', redisMetric(props.cacheRedis, 'Evictions', 'Sum'), {
        alarmDescription:
          'Cache evicting more than 1000 keys per 5 minutes for 15 minutes: undersized',
        threshold: 1000,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
      });
    }

    // --- Queue
    const backlog = appMetric(QUEUE_BACKLOG_METRIC, props.envName, 'Maximum').with({
      period: fiveMin,
    });
    const failed = appMetric(FAILED_JOBS_METRIC, props.envName, 'Sum').with({ period: fiveMin });
    const backlogLimit = props.worker.maxTasks * props.worker.backlogPerTaskTarget;
    alarm('QueueBacklogHigh', backlog, {
      alarmDescription:
        `Queue backlog above ${backlogLimit} (max workers × target) for 15 minutes, or not ` +
        'reported at all (no worker publishing)',
      threshold: backlogLimit,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cw.TreatMissingData.BREACHING,
    });
    alarm('FailedJobs', failed, {
      alarmDescription: 'Jobs failed after exhausting their retries',
      threshold: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });

    // --- Dashboard
    if (props.dashboard === false) return;
    const graph = (title: string, left: cw.IMetric[], right: cw.IMetric[] = []) =>
      new cw.GraphWidget({ title, left, right, width: 8, height: 6 });
    const replicaLag = props.dbReplicas.map((r, i) =>
      dbMetric('ReplicaLag', r.instanceIdentifier, 'Maximum').with({ label: `replica ${i + 1}` }),
    );
    const redisGroups = shared ? [props.queueRedis] : [props.queueRedis, props.cacheRedis];
    this.dashboard = new cw.Dashboard(this, 'Dashboard', {
      dashboardName: `Plinth-${props.envName}`,
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          graph('API latency (s)', [latency('p50'), latency('p95'), latency('p99')]),
          graph('API 5xx', [target5xx, elb5xx], [requests]),
          graph('Healthy API targets', [healthy]),
        ],
        [
          graph('ECS CPU %', [
            props.apiService.metricCpuUtilization({ label: 'api' }),
            props.workerService.metricCpuUtilization({ label: 'worker' }),
          ]),
          graph('ECS memory %', [
            props.apiService.metricMemoryUtilization({ label: 'api' }),
            props.workerService.metricMemoryUtilization({ label: 'worker' }),
          ]),
          graph(insights ? 'Running tasks' : 'Tasks reporting (≥ 1 = running)', [
            tasksOf(props.apiService).with({ label: 'api' }),
            tasksOf(props.workerService).with({ label: 'worker' }),
          ]),
        ],
        [
          graph(
            'RDS CPU % / connections',
            [dbMetric('CPUUtilization', primaryId)],
            [dbMetric('DatabaseConnections', primaryId, 'Maximum')],
          ),
          graph(
            'RDS free storage (bytes) / replica lag (s)',
            [dbMetric('FreeStorageSpace', primaryId, 'Minimum')],
            replicaLag,
          ),
          graph(
            'Redis memory % / evictions',
            redisGroups.map((g) =>
              redisMetric(g, 'DatabaseMemoryUsagePercentage', 'Maximum').with({
                label: `${g.evictionPolicy} memory %`,
              }),
            ),
            redisGroups.map((g) =>
              redisMetric(g, 'Evictions', 'Sum').with({ label: `${g.evictionPolicy} evictions` }),
            ),
          ),
        ],
        [
          graph('Queue backlog / failed jobs', [backlog], [failed]),
          new cw.AlarmStatusWidget({
            title: 'Alarms',
            alarms: Object.values(this.alarms),
            width: 16,
            height: 6,
          }),
        ],
      ],
    });
  }
}

/** A ratio printed without floating-point noise (1 - 0.999 → 0.001). */
function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
