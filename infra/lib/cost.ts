/**
 * Monthly cost estimate generated from the synthesized templates: resource types and sizes ×
 * the committed, dated price table (prices-us-east-1.json) × the usage assumptions below. Printed
 * by `npm run synth`; docs/infra.md embeds the same tables and a test keeps them equal, so the
 * docs cannot drift from the code (`npm run cost:docs` rewrites them).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EnvName, PlinthConfig } from './config.js';
import { EMF_METRICS } from './constructs/otel-collector.js';

/** The committed price table. */
export const PRICES = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'prices-us-east-1.json'), 'utf8'),
) as {
  asOf: string;
  hoursPerMonth: number;
  albHour: number;
  albLcuHour: number;
  publicIpv4Hour: number;
  natGatewayHour: number;
  natGatewayGb: number;
  ec2Hour: Record<string, number>;
  ebsGp3GbMonth: number;
  natInstanceRootGb: number;
  interfaceEndpointAzHour: number;
  rdsHour: Record<string, number>;
  rdsGp3GbMonth: number;
  elasticacheHour: Record<string, number>;
  fargateVcpuHour: number;
  fargateGbHour: number;
  fargateSpotDiscountAssumed: number;
  wafAclMonth: number;
  wafRuleMonth: number;
  wafMillionRequests: number;
  kmsKeyMonth: number;
  secretMonth: number;
  alarmMetricMonth: number;
  dashboardMonth: number;
  customMetricMonth: number;
  containerInsightsMetricsAssumed: number;
  logsIngestGb: number;
  compositeAlarmMonth: number;
  xrayMillionTracesRecorded: number;
  xrayFreeMillionTraces: number;
};

/** Usage the templates cannot tell: assumptions per environment, not prices. */
export const USAGE: Record<
  EnvName,
  {
    albLcu: number;
    natGb: number;
    wafMillionRequests: number;
    logsGb: number;
    /** Traces X-Ray records a month (requests × TRACE_SAMPLE_RATIO), millions. */
    xrayMillionTraces: number;
  }
> = {
  dev: { albLcu: 0.1, natGb: 0, wafMillionRequests: 0, logsGb: 1.5, xrayMillionTraces: 0.05 },
  staging: { albLcu: 1, natGb: 10, wafMillionRequests: 0, logsGb: 10, xrayMillionTraces: 0.3 },
  prod: { albLcu: 10, natGb: 100, wafMillionRequests: 50, logsGb: 100, xrayMillionTraces: 2.5 },
};

/** Custom metrics the worker publishes (Plinth/QueueBacklog, Plinth/FailedJobs). */
const APP_CUSTOM_METRICS = 2;

/** One line of the estimate. */
export interface CostLine {
  readonly item: string;
  readonly calculation: string;
  readonly monthly: number;
}

/** A cost lever the configuration applies, and what it saves per month. */
export interface CostLever {
  readonly lever: string;
  readonly saves: number;
}

/** The estimate of one environment. */
export interface CostEstimate {
  readonly envName: EnvName;
  readonly lines: readonly CostLine[];
  readonly levers: readonly CostLever[];
  readonly total: number;
}

type Resource = { Type: string; Properties?: Record<string, unknown> };
type Template = { Resources?: Record<string, Resource> };

/** Estimates the monthly cost of one environment from its stacks' templates. */
export function estimateCost(config: PlinthConfig, templates: readonly object[]): CostEstimate {
  const p = PRICES;
  const usage = USAGE[config.envName];
  const H = p.hoursPerMonth;
  const resources: [string, Resource][] = templates.flatMap((t) =>
    Object.entries((t as Template).Resources ?? {}),
  );
  const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
  const byId = new Map(resources);
  const lines: CostLine[] = [];
  const levers: CostLever[] = [];
  const add = (item: string, calculation: string, monthly: number) => {
    if (monthly > 0) lines.push({ item, calculation, monthly });
  };
  const oh = config.officeHours;
  const weekHours = oh ? (oh.stopHour - oh.startHour) * countDays(oh.weekDays) : 168;
  const onShare = weekHours / 168;
  const onHours = H * onShare;
  const hoursText = oh ? `${H} h × ${weekHours}/168 (office hours)` : `${H} h`;

  const albs = ofType('AWS::ElasticLoadBalancingV2::LoadBalancer');
  const albAzs = albs.reduce((n, [, r]) => n + list(r.Properties?.Subnets).length, 0);
  add(
    `ALB (${albs.length}, ${albAzs} AZs)`,
    `${H} h × $${p.albHour} + ${usage.albLcu} LCU × ${H} h × $${p.albLcuHour}`,
    albs.length * (H * p.albHour + usage.albLcu * H * p.albLcuHour),
  );

  const natGateways = ofType('AWS::EC2::NatGateway').length;
  const natInstances = ofType('AWS::EC2::Instance');
  const ipv4 = albAzs + natGateways + natInstances.length;
  add(
    `Public IPv4 (${albAzs} ALB nodes + ${natGateways + natInstances.length} NAT)`,
    `${ipv4} × ${H} h × $${p.publicIpv4Hour}`,
    ipv4 * H * p.publicIpv4Hour,
  );
  for (const [, r] of natInstances) {
    const type = String(r.Properties?.InstanceType);
    add(
      `NAT instance ${type} + ${p.natInstanceRootGb} GB gp3`,
      `${H} h × $${price(p.ec2Hour, type)} + ${p.natInstanceRootGb} × $${p.ebsGp3GbMonth}`,
      H * price(p.ec2Hour, type) + p.natInstanceRootGb * p.ebsGp3GbMonth,
    );
  }
  add(
    `NAT gateways (${natGateways})`,
    `${natGateways} × ${H} h × $${p.natGatewayHour} + ${usage.natGb} GB × $${p.natGatewayGb}`,
    natGateways * H * p.natGatewayHour + (natGateways ? usage.natGb * p.natGatewayGb : 0),
  );
  const endpointAzs = ofType('AWS::EC2::VPCEndpoint')
    .filter(([, r]) => r.Properties?.VpcEndpointType === 'Interface')
    .reduce((n, [, r]) => n + list(r.Properties?.SubnetIds).length, 0);
  add(
    'Interface VPC endpoints',
    `${endpointAzs} endpoint-AZs × ${H} h × $${p.interfaceEndpointAzHour}`,
    endpointAzs * H * p.interfaceEndpointAzHour,
  );

  // RDS: the primary stops outside office hours; replicas inherit the primary's storage.
  const dbs = ofType('AWS::RDS::DBInstance');
  const primary = dbs.find(([, r]) => !r.Properties?.SourceDBInstanceIdentifier);
  const storageGb = Number(primary?.[1].Properties?.AllocatedStorage ?? 0);
  for (const [id, r] of dbs) {
    const cls = String(r.Properties?.DBInstanceClass);
    const multiAz = r.Properties?.MultiAZ === true;
    const isPrimary = id === primary?.[0];
    const hours = isPrimary ? onHours : H;
    const factor = multiAz ? 2 : 1;
    const role = isPrimary ? `primary${multiAz ? ' Multi-AZ' : ''}` : 'replica';
    add(
      `RDS ${role} ${cls} + ${storageGb} GB gp3`,
      `${isPrimary ? hoursText : `${H} h`} × $${price(p.rdsHour, cls)}${factor > 1 ? ' × 2' : ''} + ${storageGb} × $${p.rdsGp3GbMonth}${factor > 1 ? ' × 2' : ''}`,
      factor * (hours * price(p.rdsHour, cls) + storageGb * p.rdsGp3GbMonth),
    );
    if (isPrimary && oh) {
      levers.push({
        lever: `office hours: database stopped ${168 - weekHours} of 168 h`,
        saves: factor * (H - hours) * price(p.rdsHour, cls),
      });
    }
  }
  for (const [, r] of ofType('AWS::ElastiCache::ReplicationGroup')) {
    const type = String(r.Properties?.CacheNodeType);
    const nodes = Number(r.Properties?.NumCacheClusters ?? 1);
    add(
      `ElastiCache ${String(r.Properties?.ReplicationGroupDescription)}: ${nodes} × ${type}`,
      `${nodes} × ${H} h × $${price(p.elasticacheHour, type)}`,
      nodes * H * price(p.elasticacheHour, type),
    );
  }

  // Fargate at each service's minimum task count (scaling above it is load-driven).
  let fargateSaved = 0;
  for (const [id, r] of ofType('AWS::ECS::Service')) {
    const task = byId.get(refOf(r.Properties?.TaskDefinition) ?? '')?.Properties ?? {};
    const vcpu = Number(task.Cpu) / 1024;
    const gb = Number(task.Memory) / 1024;
    const min = scalableMinimum(resources, id);
    const { onDemand, spot } = placement(r.Properties?.CapacityProviderStrategy, min);
    const perTaskHour = vcpu * p.fargateVcpuHour + gb * p.fargateGbHour;
    const spotFactor = 1 - p.fargateSpotDiscountAssumed;
    const monthly = (onDemand + spot * spotFactor) * perTaskHour * onHours;
    const name = id.startsWith('Api') ? 'API' : id.startsWith('Worker') ? 'worker' : id;
    add(
      `Fargate ${name}: ${min} × ${vcpu} vCPU / ${gb} GB (${onDemand} on demand, ${spot} Spot)`,
      `${hoursText} × $${round(perTaskHour, 5)}/task-h${spot ? `, Spot assumed −${p.fargateSpotDiscountAssumed * 100} %` : ''}`,
      monthly,
    );
    fargateSaved += (onDemand + spot * spotFactor) * perTaskHour * (H - onHours);
  }
  if (oh) {
    levers.push({
      lever: `office hours: API and worker at 0 tasks ${168 - weekHours} of 168 h`,
      saves: fargateSaved,
    });
  }

  for (const [, r] of ofType('AWS::WAFv2::WebACL')) {
    const rules = list(r.Properties?.Rules).length;
    add(
      `AWS WAF: 1 web ACL + ${rules} rules + ${usage.wafMillionRequests} M requests`,
      `$${p.wafAclMonth} + ${rules} × $${p.wafRuleMonth} + ${usage.wafMillionRequests} × $${p.wafMillionRequests}`,
      p.wafAclMonth + rules * p.wafRuleMonth + usage.wafMillionRequests * p.wafMillionRequests,
    );
  }
  const keys = ofType('AWS::KMS::Key').length;
  const secrets = ofType('AWS::SecretsManager::Secret').length;
  add(
    `KMS keys (${keys}) + secrets (${secrets})`,
    `${keys} × $${p.kmsKeyMonth} + ${secrets} × $${p.secretMonth}`,
    keys * p.kmsKeyMonth + secrets * p.secretMonth,
  );

  const alarmMetrics = countAlarmMetrics(resources);
  add(
    `CloudWatch alarms (${alarmMetrics} alarm metrics, scaling policies' alarms included)`,
    `${alarmMetrics} × $${p.alarmMetricMonth}`,
    alarmMetrics * p.alarmMetricMonth,
  );
  const composites = ofType('AWS::CloudWatch::CompositeAlarm').length;
  add(
    `CloudWatch composite alarms (${composites} SLO burn-rate alarms)`,
    `${composites} × $${p.compositeAlarmMonth}`,
    composites * p.compositeAlarmMonth,
  );
  // ADOT sidecars: the scraped series named in EMF_METRICS become metrics per process.
  const collectors = resources.filter(([, r]) => {
    const containers = JSON.stringify(r.Properties?.ContainerDefinitions ?? '');
    return (
      r.Type === 'AWS::ECS::TaskDefinition' &&
      containers.includes('aws-otel-collector') &&
      containers.includes('metric_name_selectors')
    );
  }).length;
  const emfMetrics = collectors * EMF_METRICS.length;
  add(
    `CloudWatch metrics from the ADOT sidecars (${collectors} × ${EMF_METRICS.length} scraped series)`,
    `${emfMetrics} × $${p.customMetricMonth}`,
    emfMetrics * p.customMetricMonth,
  );
  const billedTraces = Math.max(0, usage.xrayMillionTraces - p.xrayFreeMillionTraces);
  add(
    `X-Ray traces recorded (${usage.xrayMillionTraces} M assumed, ${p.xrayFreeMillionTraces} M free)`,
    `${round(billedTraces, 2)} × $${p.xrayMillionTracesRecorded}`,
    billedTraces * p.xrayMillionTracesRecorded,
  );
  const dashboards = ofType('AWS::CloudWatch::Dashboard').length;
  add(
    `CloudWatch dashboards (${dashboards})`,
    `${dashboards} × $${p.dashboardMonth}`,
    dashboards * p.dashboardMonth,
  );
  if (!config.dashboard) levers.push({ lever: 'no dashboard', saves: p.dashboardMonth });
  const insights = ofType('AWS::ECS::Cluster').some(([, r]) =>
    JSON.stringify(r.Properties?.ClusterSettings ?? '').includes('"enabled"'),
  );
  const customMetrics = APP_CUSTOM_METRICS + (insights ? p.containerInsightsMetricsAssumed : 0);
  add(
    `CloudWatch custom metrics (${APP_CUSTOM_METRICS} app${insights ? ` + ~${p.containerInsightsMetricsAssumed} Container Insights` : ''})`,
    `${customMetrics} × $${p.customMetricMonth}`,
    customMetrics * p.customMetricMonth,
  );
  add(
    `CloudWatch Logs ingestion (${usage.logsGb} GB assumed)`,
    `${usage.logsGb} × $${p.logsIngestGb}`,
    usage.logsGb * p.logsIngestGb,
  );

  const rounded = lines.map((l) => ({ ...l, monthly: round(l.monthly, 2) }));
  return {
    envName: config.envName,
    lines: rounded,
    levers: levers.map((l) => ({ ...l, saves: round(l.saves, 2) })),
    total: round(
      rounded.reduce((s, l) => s + l.monthly, 0),
      2,
    ),
  };
}

/** The estimate as a Markdown table (what `npm run synth` prints and docs/infra.md embeds). */
export function formatCostTable(estimate: CostEstimate): string {
  const rows = [
    `**${estimate.envName}**: estimated $/month (us-east-1 list prices of ${PRICES.asOf}; ECR, S3, Lambda, Step Functions, Scheduler and data transfer not counted: < $1 at these volumes)`,
    '',
    '| Line item | Calculation | $/month |',
    '| --- | --- | ---: |',
    ...estimate.lines.map((l) => `| ${l.item} | ${l.calculation} | ${l.monthly.toFixed(2)} |`),
    `| **Total** | | **${estimate.total.toFixed(2)}** |`,
  ];
  if (estimate.levers.length > 0) {
    rows.push(
      '',
      `Levers applied (without them: $${(estimate.total + estimate.levers.reduce((s, l) => s + l.saves, 0)).toFixed(2)}):`,
      '',
      ...estimate.levers.map((l) => `- ${l.lever}: −$${l.saves.toFixed(2)}`),
    );
  }
  return rows.join('\n');
}

function price(table: Record<string, number>, key: string): number {
  const value = table[key];
  if (value === undefined) {
    throw new Error(
      `no price for ${key} in infra/lib/prices-us-east-1.json: add it (with the date)`,
    );
  }
  return value;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function refOf(value: unknown): string | undefined {
  return value && typeof value === 'object' && 'Ref' in value
    ? String((value as { Ref: unknown }).Ref)
    : undefined;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Days in a cron day-of-week field like `MON-FRI` or `MON,WED`. */
function countDays(field: string): number {
  const days = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
  return field.split(',').reduce((n, part) => {
    const [from, to] = part.split('-');
    return n + (to ? days.indexOf(to) - days.indexOf(from ?? '') + 1 : 1);
  }, 0);
}

/** MinCapacity of the scalable target whose ResourceId names the service. */
function scalableMinimum(resources: [string, Resource][], serviceId: string): number {
  for (const [, r] of resources) {
    if (r.Type !== 'AWS::ApplicationAutoScaling::ScalableTarget') continue;
    if (JSON.stringify(r.Properties?.ResourceId ?? '').includes(`"${serviceId}"`)) {
      return Number(r.Properties?.MinCapacity ?? 1);
    }
  }
  return 1;
}

/** On-demand and Spot tasks of `count` under a capacity-provider strategy (base first, then weights). */
function placement(strategy: unknown, count: number): { onDemand: number; spot: number } {
  const items = list(strategy) as { CapacityProvider: string; Weight?: number; Base?: number }[];
  if (items.length === 0) return { onDemand: count, spot: 0 };
  const base = items.reduce((n, i) => n + (i.Base ?? 0), 0);
  const baseOnDemand = items
    .filter((i) => i.CapacityProvider === 'FARGATE')
    .reduce((n, i) => n + (i.Base ?? 0), 0);
  const rest = Math.max(0, count - base);
  const weight = items.reduce((n, i) => n + (i.Weight ?? 0), 0) || 1;
  const spotWeight = items
    .filter((i) => i.CapacityProvider === 'FARGATE_SPOT')
    .reduce((n, i) => n + (i.Weight ?? 0), 0);
  const spot = round((rest * spotWeight) / weight, 2);
  return { onDemand: Math.min(count, baseOnDemand) + rest - spot, spot };
}

/**
 * Metrics CloudWatch bills as alarm metrics: each metric of every alarm in the template, plus the
 * two alarms (high, low) each target-tracking policy creates outside the template.
 */
function countAlarmMetrics(resources: [string, Resource][]): number {
  let n = 0;
  for (const [, r] of resources) {
    if (r.Type === 'AWS::CloudWatch::Alarm') {
      const metrics = list(r.Properties?.Metrics).filter(
        (m) => (m as { MetricStat?: unknown }).MetricStat,
      );
      n += metrics.length || 1;
    } else if (r.Type === 'AWS::ApplicationAutoScaling::ScalingPolicy') {
      const tt = r.Properties?.TargetTrackingScalingPolicyConfiguration as
        { CustomizedMetricSpecification?: { Metrics?: { MetricStat?: unknown }[] } } | undefined;
      if (tt) {
        const custom = tt.CustomizedMetricSpecification?.Metrics?.filter((m) => m.MetricStat);
        n += 2 * (custom?.length || 1);
      }
    }
  }
  return n;
}
