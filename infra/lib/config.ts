/**
 * Typed, validated configuration for each Plinth environment.
 *
 * Everything a deployment depends on (account, region, availability zones, sizes, domain,
 * certificate, alarm e-mail) is explicit here so that synthesis is deterministic and needs no
 * AWS lookups. Select an environment with `-c env=<name>` (default `dev`).
 *
 * Overrides, highest precedence first:
 *  - CDK context: `-c account=123456789012 -c region=eu-west-1 -c azs=eu-west-1a,eu-west-1b`,
 *    `-c domainName=api.example.com -c certificateArn=arn:aws:acm:... -c alarmEmail=ops@example.com`,
 *    `-c corsOrigins=https://app.example.com -c loadTestCidrs=203.0.113.10/32 -c ecsExec=true`,
 *    `-c officeHours=false`, `-c wafExemptNat=true`
 *  - `CDK_DEFAULT_ACCOUNT` / `CDK_DEFAULT_REGION` (set by the CDK CLI from your AWS profile)
 *  - the per-environment defaults below.
 */

/** The environments Plinth knows about. */
export const ENV_NAMES = ['dev', 'staging', 'prod'] as const;
/** Name of a Plinth environment. */
export type EnvName = (typeof ENV_NAMES)[number];

/** NAT flavour for private subnets' egress. */
export type NatType = 'instance' | 'gateway';

/** Network settings. */
export interface NetworkConfig {
  /** VPC IPv4 CIDR block. */
  readonly cidr: string;
  /** `instance` = one t4g.nano NAT instance (cheap, dev); `gateway` = managed NAT gateways. */
  readonly natType: NatType;
  /** Number of NAT instances/gateways (1 in dev, one per AZ in prod). */
  readonly natCount: number;
  /** Create interface endpoints (ECR, Logs, Secrets Manager, CloudWatch); each costs ~$7.30/month per AZ. */
  readonly interfaceEndpoints: boolean;
}

/** RDS for PostgreSQL settings. */
export interface DatabaseConfig {
  /** Instance class without the `db.` prefix, e.g. `t4g.micro`, `m7g.large`. */
  readonly instanceType: string;
  /** Synchronous standby in a second AZ for the primary. */
  readonly multiAz: boolean;
  /** Number of read replicas (0–5). */
  readonly readReplicas: number;
  /** Initial allocated gp3 storage, GiB (min 20). */
  readonly allocatedStorageGiB: number;
  /** Storage autoscaling ceiling, GiB. */
  readonly maxAllocatedStorageGiB: number;
  /** Automated backup retention, days (1–35). */
  readonly backupRetentionDays: number;
  /** Days between automatic credential rotations. */
  readonly rotationDays: number;
  /** Alarm when connections exceed this count (size it from the instance class's max_connections). */
  readonly maxConnectionsAlarm: number;
}

/** ElastiCache (Redis OSS) settings. */
export interface RedisConfig {
  /** Node type, e.g. `cache.t4g.micro`. */
  readonly nodeType: string;
  /** Replicas per replication group (0 = single node; ≥1 enables automatic failover and Multi-AZ). */
  readonly replicas: number;
  /** Use one (noeviction) group for both cache and queue. Only sensible in dev. */
  readonly sharedCacheAndQueue: boolean;
  /** Daily snapshot retention, days (0 disables snapshots). */
  readonly snapshotRetentionDays: number;
}

/** Fargate sizing and scaling for the API service. */
export interface ServiceConfig {
  /** Task vCPU in CPU units (256 = 0.25 vCPU). */
  readonly cpu: number;
  /** Task memory, MiB. */
  readonly memoryMiB: number;
  /** Minimum running tasks. */
  readonly minTasks: number;
  /** Maximum running tasks. */
  readonly maxTasks: number;
  /** Target average CPU utilisation, percent. */
  readonly cpuTargetPercent: number;
  /**
   * Run on Fargate Spot (~70 % cheaper, interruptible with a 2-minute warning). dev only: with one
   * task a reclaim means a short outage until ECS places a replacement; prod forbids it.
   */
  readonly spot: boolean;
}

/** Limits of the API's own Redis-backed rate limiter (`RATE_LIMIT_*`); always on, in every env. */
export interface RateLimitConfig {
  /** Requests per client IP per minute across the API (`RATE_LIMIT_PER_MINUTE`). */
  readonly perMinute: number;
  /** Login/registration/password requests per client IP per minute (`RATE_LIMIT_AUTH_PER_MINUTE`). */
  readonly authPerMinute: number;
  /** Failed logins per account per 15 minutes (`RATE_LIMIT_LOGIN_PER_ACCOUNT`). */
  readonly loginPerAccount: number;
}

/** Office-hours schedule: outside it the API and worker run no task and the database is stopped. */
export interface OfficeHoursConfig {
  /** IANA time zone of the hours, e.g. `Europe/Berlin`. */
  readonly timeZone: string;
  /** Hour (0–23) at which the database starts and the services scale back up. */
  readonly startHour: number;
  /** Hour (1–23, after `startHour`) at which the services scale to zero and the database stops. */
  readonly stopHour: number;
  /** Days of the week the environment runs, as a cron day-of-week field. */
  readonly weekDays: string;
}

/** Fargate sizing and scaling for the Bull worker. */
export interface WorkerConfig {
  /** Task vCPU in CPU units (256 = 0.25 vCPU). */
  readonly cpu: number;
  /** Task memory, MiB. */
  readonly memoryMiB: number;
  /** Minimum running tasks; ≥ 1 because the worker itself publishes the backlog metric. */
  readonly minTasks: number;
  /** Maximum running tasks. */
  readonly maxTasks: number;
  /** Target waiting jobs (runnable now) per running worker task. */
  readonly backlogPerTaskTarget: number;
  /** CPU safety-net target, percent. */
  readonly cpuTargetPercent: number;
  /** Percentage of worker tasks placed on Fargate Spot (0–100; x86 only). */
  readonly spotPercent: number;
}

/** Custom domain for the API (enables HTTPS). */
export interface DomainConfig {
  /** Fully qualified API host name, e.g. `api.example.com`. */
  readonly domainName: string;
  /** ACM certificate ARN for `domainName`, in the deployment region. */
  readonly certificateArn: string;
  /** Route 53 hosted zone to create an alias record in (optional; no lookup is made). */
  readonly hostedZone?: { readonly id: string; readonly name: string };
}

/** Outbound mail via Amazon SES. */
export interface MailConfig {
  /** Domain verified as SES identity and used as sender domain, e.g. `example.com`. */
  readonly domain: string;
  /** Sender address, e.g. `no-reply@example.com`. */
  readonly fromAddress: string;
}

/** Full configuration of one environment. */
export interface PlinthConfig {
  /** Environment name (stack prefix and `APP_ENV`). */
  readonly envName: EnvName;
  /** 12-digit AWS account id. */
  readonly account: string;
  /** AWS region, e.g. `us-east-1`. */
  readonly region: string;
  /** Availability zones in `region` (≥ 2; the ALB requires two). */
  readonly availabilityZones: readonly string[];
  /** Network settings. */
  readonly network: NetworkConfig;
  /** Database settings. */
  readonly database: DatabaseConfig;
  /** Redis settings. */
  readonly redis: RedisConfig;
  /** API service settings. */
  readonly service: ServiceConfig;
  /** Worker settings. */
  readonly worker: WorkerConfig;
  /**
   * Custom domain + certificate (HTTPS). Required in staging and prod, which refuse to synthesize
   * without it; dev may run plain HTTP. @default undefined (HTTP only)
   */
  readonly domain?: DomainConfig;
  /** SES mail; absent = no SES identity, no SMTP secrets. @default undefined */
  readonly mail?: MailConfig;
  /** E-mail address subscribed to the alarm topic. @default undefined (topic without subscribers) */
  readonly alarmEmail?: string;
  /**
   * Associate an AWS WAF web ACL (per-IP rate limit + AWS managed rule groups) with the ALB.
   * Costs $5/ACL + $1/rule = $9/month plus $0.60 per million requests. Off in dev, where the API's
   * own rate limiter (`rateLimit`) is the protection; prod requires it. Defaults: dev false,
   * staging/prod true.
   */
  readonly wafEnabled: boolean;
  /** WAF rate-based rule: max requests per client IP per 5 minutes (when `wafEnabled`). */
  readonly wafRateLimitPer5Min: number;
  /**
   * Source ranges (IPv4 CIDR) of load generators that the WAF per-IP rate rule does not count, so
   * a k6 stage can drive the API to its scaling targets; the managed rule groups still apply.
   * @default [] (every client is rate limited)
   */
  readonly loadTestCidrs: readonly string[];
  /**
   * Add this environment's own NAT gateway addresses to the load-test sources the WAF rate rule
   * does not count: the deployment pipeline's k6 steps run in CodeBuild in this VPC's private
   * subnets, so the API sees them arrive from the NAT's Elastic IPs. Needs `wafEnabled` and NAT
   * gateways (fixed addresses). Defaults: staging true (the average and stress load gates);
   * dev, prod false (prod's k6 smoke stays far below the rate limit).
   */
  readonly wafExemptNat: boolean;
  /**
   * Overrides of the API's rate limiter (`RATE_LIMIT_*`); a field left out is not passed, so the
   * service's own default applies. @default {} (the service defaults)
   */
  readonly rateLimit: Partial<RateLimitConfig>;
  /** Allowed CORS origins, comma-separated, or `*` (`CORS_ORIGINS`). @default the service default (`*`) */
  readonly corsOrigins?: string;
  /**
   * ECS Exec (`aws ecs execute-command`) into API and worker tasks. Opt-in in prod: a shell in a
   * production task can read every secret it holds. Defaults: dev/staging true, prod false.
   */
  readonly ecsExec: boolean;
  /**
   * Run only during office hours (dev's cost lever): services at zero tasks and the database
   * stopped outside them, alarm actions paused meanwhile. @default undefined (always on)
   */
  readonly officeHours?: OfficeHoursConfig;
  /** The CloudWatch dashboard `Plinth-<env>` ($3/month). */
  readonly dashboard: boolean;
  /**
   * ECS Container Insights on the cluster (~30 custom metrics ≈ $9/month plus performance-log
   * ingestion). The worker's backlog-per-task scaling divides by its `RunningTaskCount`, so without
   * it the worker falls back to step scaling on the absolute `Plinth/QueueBacklog` (fine for dev's
   * one or two workers). Defaults: dev false, staging/prod true; prod requires it.
   */
  readonly containerInsights: boolean;
  /**
   * Create the `JWT_PREVIOUS_SECRETS` secret (earlier signing keys that still verify tokens, so the
   * JWT key rotates without logging anyone out; runbook in docs/infra.md). $0.40/month.
   * Defaults: dev false, staging/prod true.
   */
  readonly jwtPreviousSecrets: boolean;
  /** CloudWatch Logs retention for app, flow and DB logs, days. */
  readonly logRetentionDays: number;
  /** Application log level (`LOG_LEVEL`). @default the service default (`info`) */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Days until objects under `exports/` expire. */
  readonly exportsExpirationDays: number;
  /** Protect stateful resources: termination protection, deletion protection, RETAIN/SNAPSHOT. */
  readonly protectData: boolean;
}

/** Placeholder account ids; replace with yours (or pass `-c account=`). */
export const DEFAULT_ACCOUNTS: Readonly<Record<EnvName, string>> = {
  dev: '111111111111',
  staging: '222222222222',
  prod: '333333333333',
};

/**
 * Capacity of a 0.5 vCPU task in requests/second at p99 < 300 ms, measured with autocannon on the
 * production build pinned to one CPU (GET /api/articles?limit=20, the heaviest common read:
 * 135 req/s at p99 242 ms on one vCPU) and halved. See docs/infra.md "Scaling on requests per
 * target" for the run and the other endpoints.
 */
export const MEASURED_TASK_CAPACITY_RPS = 65;
/** CPU units of the task size {@link MEASURED_TASK_CAPACITY_RPS} was measured for (0.5 vCPU). */
export const MEASURED_TASK_CPU = 512;
/** Fraction of measured capacity the scaling target aims at (room for bursts while scaling out). */
export const SCALING_HEADROOM = 0.6;

/**
 * ALBRequestCountPerTarget target for a task of `cpu` units: the measured capacity scaled to the
 * task's vCPU share (the API is CPU-bound: one Node process), × 60 s (the metric is a per-minute
 * sum) × headroom.
 */
export function requestsPerTargetPerMinute(cpu: number): number {
  return Math.round(MEASURED_TASK_CAPACITY_RPS * (cpu / MEASURED_TASK_CPU) * 60 * SCALING_HEADROOM);
}

const BASE: Record<EnvName, Omit<PlinthConfig, 'account'>> = {
  dev: {
    envName: 'dev',
    region: 'us-east-1',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    network: { cidr: '10.10.0.0/16', natType: 'instance', natCount: 1, interfaceEndpoints: false },
    database: {
      instanceType: 't4g.micro',
      multiAz: false,
      readReplicas: 0,
      allocatedStorageGiB: 20,
      maxAllocatedStorageGiB: 50,
      backupRetentionDays: 1,
      rotationDays: 30,
      maxConnectionsAlarm: 60,
    },
    redis: {
      nodeType: 'cache.t4g.micro',
      replicas: 0,
      sharedCacheAndQueue: true,
      snapshotRetentionDays: 0,
    },
    service: {
      cpu: 256,
      memoryMiB: 512,
      minTasks: 1,
      maxTasks: 2,
      cpuTargetPercent: 70,
      spot: true,
    },
    worker: {
      cpu: 256,
      memoryMiB: 512,
      minTasks: 1,
      maxTasks: 2,
      backlogPerTaskTarget: 100,
      cpuTargetPercent: 75,
      spotPercent: 100,
    },
    wafEnabled: false,
    wafRateLimitPer5Min: 2000,
    loadTestCidrs: [],
    wafExemptNat: false,
    rateLimit: {},
    ecsExec: true,
    // 07:00–19:00 on weekdays: 60 of 168 hours (see the cost table in docs/infra.md).
    officeHours: { timeZone: 'UTC', startHour: 7, stopHour: 19, weekDays: 'MON-FRI' },
    dashboard: false,
    containerInsights: false,
    jwtPreviousSecrets: false,
    logRetentionDays: 7,
    logLevel: 'debug',
    exportsExpirationDays: 7,
    protectData: false,
  },
  staging: {
    envName: 'staging',
    region: 'us-east-1',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    // Interface endpoints (5 × 2 AZ × $7.30) cost more than staging's NAT data processing saves.
    network: { cidr: '10.20.0.0/16', natType: 'gateway', natCount: 1, interfaceEndpoints: false },
    database: {
      instanceType: 't4g.medium',
      multiAz: false,
      readReplicas: 1,
      allocatedStorageGiB: 50,
      maxAllocatedStorageGiB: 200,
      backupRetentionDays: 7,
      rotationDays: 30,
      maxConnectionsAlarm: 300,
    },
    redis: {
      nodeType: 'cache.t4g.small',
      replicas: 1,
      sharedCacheAndQueue: false,
      snapshotRetentionDays: 1,
    },
    service: {
      cpu: 512,
      memoryMiB: 1024,
      minTasks: 2,
      maxTasks: 4,
      cpuTargetPercent: 60,
      spot: false,
    },
    worker: {
      cpu: 512,
      memoryMiB: 1024,
      minTasks: 1,
      maxTasks: 4,
      backlogPerTaskTarget: 100,
      cpuTargetPercent: 75,
      spotPercent: 100,
    },
    wafEnabled: true,
    wafRateLimitPer5Min: 2000,
    loadTestCidrs: [],
    wafExemptNat: true,
    rateLimit: {},
    ecsExec: true,
    dashboard: true,
    containerInsights: true,
    jwtPreviousSecrets: true,
    logRetentionDays: 30,
    exportsExpirationDays: 14,
    protectData: false,
  },
  prod: {
    envName: 'prod',
    region: 'us-east-1',
    availabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
    network: { cidr: '10.30.0.0/16', natType: 'gateway', natCount: 3, interfaceEndpoints: true },
    database: {
      instanceType: 'm7g.large',
      multiAz: true,
      readReplicas: 2,
      allocatedStorageGiB: 100,
      maxAllocatedStorageGiB: 1000,
      backupRetentionDays: 14,
      rotationDays: 30,
      maxConnectionsAlarm: 600,
    },
    redis: {
      nodeType: 'cache.m7g.large',
      replicas: 2,
      sharedCacheAndQueue: false,
      snapshotRetentionDays: 7,
    },
    service: {
      cpu: 512,
      memoryMiB: 1024,
      minTasks: 3,
      maxTasks: 20,
      cpuTargetPercent: 60,
      spot: false,
    },
    worker: {
      cpu: 512,
      memoryMiB: 1024,
      minTasks: 2,
      maxTasks: 20,
      backlogPerTaskTarget: 100,
      cpuTargetPercent: 75,
      spotPercent: 50,
    },
    wafEnabled: true,
    wafRateLimitPer5Min: 2000,
    loadTestCidrs: [],
    wafExemptNat: false,
    rateLimit: {},
    ecsExec: false,
    dashboard: true,
    containerInsights: true,
    jwtPreviousSecrets: true,
    logRetentionDays: 90,
    exportsExpirationDays: 30,
    protectData: true,
  },
};

/** Error raised for invalid configuration; the message says what to change. */
export class ConfigError extends Error {
  constructor(
    envName: string,
    /** One line each, saying what to change. */
    public readonly problems: readonly string[],
    fix = 'Fix infra/lib/config.ts or the -c overrides.',
  ) {
    super(
      `Invalid Plinth configuration for env "${envName}":\n` +
        problems.map((p) => `  - ${p}`).join('\n') +
        `\n${fix}`,
    );
    this.name = 'ConfigError';
  }
}

/** Reads a context value (from `-c key=value`, cdk.json or `App({context})`). */
export type ContextReader = (key: string) => unknown;

/** Inputs for {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Context reader, usually `(k) => app.node.tryGetContext(k)`. */
  readonly context: ContextReader;
  /** Process environment (for CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION). @default {} */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Environment to load; overrides the `env` context. @default context `env` or `dev` */
  readonly envName?: string;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/** A boolean context value (`-c ecsExec=true`); undefined when not given. */
function flag(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  const s = str(v);
  return s === undefined ? undefined : s === 'true';
}

function list(v: unknown): string[] | undefined {
  return str(v)
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Loads and validates the configuration for one environment. Throws {@link ConfigError}. */
export function loadConfig(opts: LoadConfigOptions): PlinthConfig {
  const ctx = opts.context;
  const env = opts.env ?? {};
  const name = opts.envName ?? str(ctx('env')) ?? 'dev';
  if (!(ENV_NAMES as readonly string[]).includes(name)) {
    throw new ConfigError(name, [
      `unknown environment "${name}"; use -c env=${ENV_NAMES.join('|')}`,
    ]);
  }
  const envName = name as EnvName;
  const base = BASE[envName];
  const azs = str(ctx('azs'));
  const domainName = str(ctx('domainName'));
  const certificateArn = str(ctx('certificateArn'));
  const alarmEmail = str(ctx('alarmEmail'));
  const corsOrigins = str(ctx('corsOrigins'));
  const loadTestCidrs = list(ctx('loadTestCidrs'));
  const ecsExec = flag(ctx('ecsExec'));
  const officeHours = flag(ctx('officeHours'));
  const wafExemptNat = flag(ctx('wafExemptNat'));
  const { officeHours: baseOfficeHours, ...rest } = base;
  const config: PlinthConfig = {
    ...rest,
    ...(baseOfficeHours && officeHours !== false ? { officeHours: baseOfficeHours } : {}),
    account: str(ctx('account')) ?? str(env.CDK_DEFAULT_ACCOUNT) ?? DEFAULT_ACCOUNTS[envName],
    region: str(ctx('region')) ?? str(env.CDK_DEFAULT_REGION) ?? base.region,
    availabilityZones: azs ? azs.split(',').map((s) => s.trim()) : base.availabilityZones,
    ...(domainName || certificateArn
      ? { domain: { domainName: domainName ?? '', certificateArn: certificateArn ?? '' } }
      : {}),
    ...(alarmEmail ? { alarmEmail } : {}),
    ...(corsOrigins ? { corsOrigins } : {}),
    ...(loadTestCidrs ? { loadTestCidrs } : {}),
    ...(ecsExec !== undefined ? { ecsExec } : {}),
    ...(wafExemptNat !== undefined ? { wafExemptNat } : {}),
  };
  validateConfig(config);
  return config;
}

/** Fargate task sizes: CPU units → allowed memory range, MiB. */
export const FARGATE_SIZES: Record<number, readonly [number, number]> = {
  256: [512, 2048],
  512: [1024, 4096],
  1024: [2048, 8192],
  2048: [4096, 16384],
  4096: [8192, 30720],
};

/** Validates a configuration; throws {@link ConfigError} listing every problem. */
export function validateConfig(c: PlinthConfig): void {
  const p: string[] = [];
  if (!/^\d{12}$/.test(c.account)) {
    p.push(`account "${c.account}" must be a 12-digit AWS account id (-c account=123456789012)`);
  }
  if (!/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(c.region)) {
    p.push(`region "${c.region}" is not an AWS region name like us-east-1 (-c region=...)`);
  }
  if (c.availabilityZones.length < 2) {
    p.push('availabilityZones needs at least 2 zones (an ALB requires two AZs)');
  }
  if (new Set(c.availabilityZones).size !== c.availabilityZones.length) {
    p.push('availabilityZones contains duplicates');
  }
  const foreign = c.availabilityZones.filter(
    (az) => !az.startsWith(c.region) || !/^[a-z]$/.test(az.slice(c.region.length)),
  );
  if (foreign.length > 0) {
    p.push(
      `availabilityZones ${foreign.join(', ')} are not in region ${c.region}; ` +
        `pass -c azs=${c.region}a,${c.region}b (zones that exist in your account)`,
    );
  }
  if (!/^10\.\d{1,3}\.0\.0\/16$/.test(c.network.cidr)) {
    p.push(`network.cidr "${c.network.cidr}" must be a 10.x.0.0/16 block`);
  }
  if (c.network.natCount < 1 || c.network.natCount > c.availabilityZones.length) {
    p.push(`network.natCount must be between 1 and ${c.availabilityZones.length} (one per AZ)`);
  }
  if (c.envName === 'prod' && c.network.natCount !== c.availabilityZones.length) {
    p.push('prod needs one NAT per AZ: set network.natCount to the number of availabilityZones');
  }
  const db = c.database;
  if (!/^[a-z][a-z0-9]*\.[a-z0-9]+$/.test(db.instanceType) || db.instanceType.startsWith('db.')) {
    p.push(
      `database.instanceType "${db.instanceType}" must look like "t4g.micro" (no "db." prefix)`,
    );
  }
  if (!Number.isInteger(db.readReplicas) || db.readReplicas < 0 || db.readReplicas > 5) {
    p.push('database.readReplicas must be an integer 0–5');
  }
  if (db.backupRetentionDays < 1 || db.backupRetentionDays > 35) {
    p.push('database.backupRetentionDays must be 1–35 (read replicas and PITR need backups)');
  }
  if (db.allocatedStorageGiB < 20 || db.maxAllocatedStorageGiB < db.allocatedStorageGiB) {
    p.push('database storage: allocatedStorageGiB ≥ 20 and maxAllocatedStorageGiB ≥ allocated');
  }
  if (db.rotationDays < 1 || db.rotationDays > 365) {
    p.push('database.rotationDays must be 1–365');
  }
  if (c.envName === 'prod' && !db.multiAz) p.push('prod requires database.multiAz: true');
  const r = c.redis;
  if (!r.nodeType.startsWith('cache.')) {
    p.push(`redis.nodeType "${r.nodeType}" must start with "cache." (e.g. cache.t4g.micro)`);
  }
  if (!Number.isInteger(r.replicas) || r.replicas < 0 || r.replicas > 5) {
    p.push('redis.replicas must be an integer 0–5');
  }
  if (c.envName === 'prod' && r.replicas < 1) {
    p.push('prod requires redis.replicas ≥ 1 (automatic failover and Multi-AZ)');
  }
  if (c.envName !== 'dev' && r.sharedCacheAndQueue) {
    p.push(
      'redis.sharedCacheAndQueue is only allowed in dev: cache evictions must never hit the queue',
    );
  }
  for (const [label, s] of [
    ['service', c.service],
    ['worker', c.worker],
  ] as const) {
    const range = FARGATE_SIZES[s.cpu];
    if (!range) {
      p.push(`${label}.cpu ${s.cpu} is not a Fargate size (256, 512, 1024, 2048, 4096)`);
    } else if (s.memoryMiB < range[0] || s.memoryMiB > range[1] || s.memoryMiB % 1024 !== 0) {
      if (!(s.cpu === 256 && s.memoryMiB === 512)) {
        p.push(
          `${label}.memoryMiB ${s.memoryMiB} is invalid for cpu ${s.cpu}: use ${range[0]}–${range[1]} in 1024 steps`,
        );
      }
    }
    if (s.minTasks > s.maxTasks) p.push(`${label}.minTasks must be ≤ ${label}.maxTasks`);
    if (s.cpuTargetPercent < 10 || s.cpuTargetPercent > 90) {
      p.push(`${label}.cpuTargetPercent must be 10–90`);
    }
  }
  if (c.service.minTasks < 1) p.push('service.minTasks must be ≥ 1');
  if (c.envName === 'prod' && c.service.minTasks < 2) {
    p.push('prod requires service.minTasks ≥ 2 (one task per AZ survives an AZ failure)');
  }
  if (c.envName === 'prod' && c.service.spot) p.push('prod must not run the API on Fargate Spot');
  if (c.worker.minTasks < 1) {
    p.push(
      'worker.minTasks must be ≥ 1: the worker publishes the QueueBacklog metric, so with 0 tasks ' +
        'nothing would report the backlog and waiting jobs would be stranded ' +
        '(officeHours stops it on a schedule instead, with its alarms paused)',
    );
  }
  const oh = c.officeHours;
  if (oh) {
    if (c.protectData) {
      p.push('officeHours stops the database and every task: not allowed with protectData (prod)');
    }
    if (
      !Number.isInteger(oh.startHour) ||
      !Number.isInteger(oh.stopHour) ||
      oh.startHour < 0 ||
      oh.stopHour > 23 ||
      oh.startHour >= oh.stopHour
    ) {
      p.push('officeHours: startHour and stopHour must be whole hours with 0 ≤ start < stop ≤ 23');
    }
    if (!/^[A-Z]{3}(-[A-Z]{3})?(,[A-Z]{3}(-[A-Z]{3})?)*$/.test(oh.weekDays)) {
      p.push(`officeHours.weekDays "${oh.weekDays}" must be a cron day-of-week field like MON-FRI`);
    }
  }
  for (const cidr of c.loadTestCidrs) {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
    if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) {
      p.push(`loadTestCidrs: "${cidr}" is not an IPv4 CIDR like 203.0.113.10/32`);
    }
  }
  if (c.wafExemptNat && (!c.wafEnabled || c.network.natType !== 'gateway')) {
    p.push(
      'wafExemptNat needs wafEnabled: true and network.natType "gateway" (Elastic IPs the WAF ' +
        'can name); pass -c wafExemptNat=false or list the load generators in loadTestCidrs',
    );
  }
  if (c.envName !== 'dev' && !c.domain) {
    p.push(
      `${c.envName} must serve HTTPS (session cookies and tokens must not travel in clear): ` +
        'pass -c domainName=api.example.com -c certificateArn=arn:aws:acm:' +
        `${c.region}:<account>:certificate/<id> (an ACM certificate for that name in ${c.region}); ` +
        'only dev may run plain HTTP',
    );
  }
  if (c.worker.spotPercent < 0 || c.worker.spotPercent > 100) {
    p.push('worker.spotPercent must be 0–100');
  }
  if (c.worker.backlogPerTaskTarget <= 0) p.push('worker.backlogPerTaskTarget must be > 0');
  if (c.envName === 'prod' && !c.wafEnabled) {
    p.push('prod requires wafEnabled: true (AWS WAF in front of the public ALB)');
  }
  if (c.envName === 'prod' && !c.containerInsights) {
    p.push('prod requires containerInsights: true (worker scaling on backlog per running task)');
  }
  const rl = c.rateLimit;
  for (const [key, value, max] of [
    ['perMinute', rl.perMinute, 10_000_000],
    ['authPerMinute', rl.authPerMinute, 1_000_000],
    ['loginPerAccount', rl.loginPerAccount, 1_000_000],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > max)) {
      p.push(`rateLimit.${key} must be an integer 1–${max.toLocaleString('en-US')}`);
    }
  }
  if (c.corsOrigins !== undefined && (c.corsOrigins.trim() === '' || /\s/.test(c.corsOrigins))) {
    p.push('corsOrigins must be "*" or comma-separated origins without spaces');
  }
  if (c.wafRateLimitPer5Min < 10 || c.wafRateLimitPer5Min > 2_000_000_000) {
    p.push('wafRateLimitPer5Min must be between 10 and 2,000,000,000 (AWS WAF limits)');
  }
  if (c.domain) {
    if (!/^([a-z0-9-]+\.)+[a-z]{2,}$/.test(c.domain.domainName)) {
      p.push(
        `domain.domainName "${c.domain.domainName}" is not a host name (-c domainName=api.example.com)`,
      );
    }
    const certRe = new RegExp(`^arn:aws[a-z-]*:acm:${c.region}:\\d{12}:certificate/[0-9a-f-]+$`);
    if (!certRe.test(c.domain.certificateArn)) {
      p.push(
        `domain.certificateArn must be an ACM certificate ARN in ${c.region} ` +
          '(-c certificateArn=arn:aws:acm:<region>:<account>:certificate/<id>); HTTPS needs both',
      );
    }
  }
  if (c.mail && !c.mail.fromAddress.endsWith(`@${c.mail.domain}`)) {
    p.push(`mail.fromAddress must be an address at mail.domain (${c.mail.domain})`);
  }
  if (c.alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(c.alarmEmail)) {
    p.push(`alarmEmail "${c.alarmEmail}" is not an e-mail address`);
  }
  if (c.envName === 'prod' && !c.protectData) {
    p.push('prod requires protectData: true (termination/deletion protection)');
  }
  if (p.length > 0) throw new ConfigError(c.envName, p);
}
