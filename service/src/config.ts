import { readFileSync } from 'node:fs';
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const url = (protocols: string[], example: string) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.join(' or ')}//, e.g. ${example}` },
  );

/** A path to a PEM file holding at least one certificate, checked at boot. */
const pemFile = z
  .string()
  .min(1)
  .refine(
    (path) => {
      try {
        return readFileSync(path, 'utf8').includes('-----BEGIN CERTIFICATE-----');
      } catch {
        return false;
      }
    },
    { message: 'must name a readable PEM file holding at least one certificate' },
  );

/** A comma-separated list (empty by default), each item checked by `item`. */
const commaList = <T extends z.ZodType<string, string>>(item: T) =>
  z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item));

/**
 * Every environment variable the service and worker read, validated once at boot.
 * Only DATABASE_URL, REDIS_URL and JWT_SECRET are required; everything else has a safe default.
 */
const configFields = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  /** Deployment environment name (dev, staging, prod); used in metric dimensions and logs. */
  APP_ENV: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/)
    .default('local'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: int(0, 65535).default(3000),
  /**
   * Port of the Prometheus listener (`GET /metrics`), separate from PORT so the load balancer never
   * routes to it; 0 picks a free port (tests). The API and the worker each serve their own.
   */
  METRICS_PORT: int(0, 65535).default(9464),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: url(['postgres:', 'postgresql:'], 'postgres://user:password@localhost:5432/plinth'),
  /** Overrides the user in DATABASE_URL (lets the platform inject it from a secret). */
  DATABASE_USER: z.string().min(1).optional(),
  /** Overrides the password in DATABASE_URL (lets the platform inject it from a secret). */
  DATABASE_PASSWORD: z.string().min(1).optional(),
  /**
   * TLS to PostgreSQL (primary and replicas). `require`: encrypted, the server's certificate not
   * checked (libpq's meaning). `verify-full`: encrypted, and the certificate must chain to
   * DATABASE_SSL_CA_FILE (default: the Amazon RDS CA bundle) and name the host connected to.
   */
  DATABASE_SSL: z.enum(['disable', 'require', 'verify-full']).default('disable'),
  /** PEM CA certificate(s) that `verify-full` trusts instead of the bundled Amazon RDS CAs. */
  DATABASE_SSL_CA_FILE: pemFile.optional(),
  DATABASE_POOL_MAX: int(1, 200).default(10),
  /**
   * Longest wait for a new database connection (or a free one from a full pool); a database
   * that does not answer is then a 503 instead of a request held until REQUEST_TIMEOUT_MS.
   */
  DATABASE_CONNECT_TIMEOUT_MS: int(100, 120_000).default(5_000),
  /**
   * Comma-separated read replica URLs (`postgres://host:5432/db`), used as they are; with
   * RDS_PRIMARY_INSTANCE_ID they are discovered instead. Credentials: as for DATABASE_URL.
   */
  DATABASE_REPLICA_URLS: commaList(
    url(['postgres:', 'postgresql:'], 'postgres://replica-1.internal:5432/plinth'),
  ),
  /**
   * The RDS primary's DB instance identifier: its available read replicas are discovered with
   * DescribeDBInstances (AWS credentials and region from the environment, as on ECS).
   */
  RDS_PRIMARY_INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]{0,62}$/, 'must be an RDS DB instance identifier')
    .optional(),
  /** How often replica discovery asks RDS again, so added or removed replicas are seen. */
  DATABASE_REPLICA_REFRESH_MS: int(1_000, 86_400_000).default(60_000),
  /**
   * A replica whose replay lags the primary by more than this is skipped (reads go to another
   * replica or the primary) until it catches up.
   */
  DATABASE_REPLICA_MAX_LAG_MS: int(0, 3_600_000).default(5_000),
  /**
   * Connections per replica pool, per API task. Sizing rule (docs/read-replicas.md): API tasks ×
   * this ≤ the replica's max_connections minus headroom.
   */
  DATABASE_REPLICA_POOL_MAX: int(1, 200).default(10),
  /** How often each replica's replay position (health and lag) is checked. */
  DATABASE_REPLICA_HEALTH_INTERVAL_MS: int(100, 60_000).default(1_000),
  /**
   * How long a signed-in user's read-your-writes floor (the WAL position of their last write)
   * lives in Redis. Must outlast any lag a replica may still be read at: at least
   * DATABASE_REPLICA_MAX_LAG_MS + 2 × DATABASE_REPLICA_HEALTH_INTERVAL_MS.
   */
  DATABASE_REPLICA_RYW_TTL_MS: int(1_000, 86_400_000).default(30_000),
  REDIS_URL: url(['redis:', 'rediss:'], 'redis://localhost:6379'),
  /**
   * PEM CA certificate(s) for `rediss:` URLs signed by a private CA; without it the server's
   * certificate is checked against Node's public CAs (which sign ElastiCache's).
   */
  REDIS_TLS_CA_FILE: pemFile.optional(),
  /** Overrides the password in REDIS_URL (ElastiCache auth token from a secret). */
  REDIS_AUTH_TOKEN: z.string().min(1).optional(),
  /** Prefix of every Redis key this process writes, so several apps or test runs can share one Redis. */
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]{1,64}$/)
    .default('plinth:'),
  /**
   * The read cache's Redis (docs/read-path.md); default: REDIS_URL. A Redis of its own keeps
   * cache evictions and load away from the queues. Same REDIS_AUTH_TOKEN and REDIS_TLS_CA_FILE.
   */
  REDIS_CACHE_URL: url(['redis:', 'rediss:'], 'redis://cache.internal:6379').optional(),
  /** Cache the hot reads in Redis (cache-aside, invalidated by the writes). */
  CACHE_ENABLED: bool.default(true),
  /** How long a cached value lives at most (±10 % jitter); correctness never rests on it. */
  CACHE_TTL_SECONDS: int(1, 86_400).default(300),
  /** Values larger than this are not cached. */
  CACHE_MAX_VALUE_BYTES: int(1024, 16 * 1024 * 1024).default(512 * 1024),
  /** How long one process may hold the right to fill a missing value, before others fill it too. */
  CACHE_LOCK_MS: int(10, 10_000).default(200),
  /** A Redis command on the request path still unanswered after this long fails (and falls back). */
  REDIS_COMMAND_TIMEOUT_MS: int(10, 60_000).default(250),
  /** After repeated Redis failures, commands fail at once for this long before one is retried. */
  REDIS_CIRCUIT_OPEN_MS: int(100, 300_000).default(2_000),
  /** Signs new tokens. Rotate by moving the old value to JWT_PREVIOUS_SECRETS. */
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters (e.g. `openssl rand -base64 48`)'),
  /** Comma-separated earlier secrets that still verify tokens (key rotation without logouts). */
  JWT_PREVIOUS_SECRETS: commaList(
    z.string().min(32, 'every previous secret must be at least 32 characters'),
  ),
  JWT_TTL_SECONDS: int(60, 60 * 60 * 24 * 90).default(60 * 60 * 24 * 7),
  /** Public origin of the API (OIDC redirect URIs are built from it). */
  PUBLIC_URL: url(['http:', 'https:'], 'https://api.example.com').default('http://localhost:3000'),
  SESSION_COOKIE_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .default('plinth_session'),
  /** Send the session cookie only over HTTPS. Defaults to true when NODE_ENV=production. */
  SESSION_COOKIE_SECURE: bool.optional(),
  SESSION_SAMESITE: z.enum(['strict', 'lax']).default('lax'),
  /** A session unused this long ends. */
  SESSION_IDLE_TIMEOUT_SECONDS: int(60, 60 * 60 * 24 * 30).default(60 * 60),
  /** A session ends this long after login, however active. */
  SESSION_ABSOLUTE_TIMEOUT_SECONDS: int(60, 60 * 60 * 24 * 90).default(60 * 60 * 24),
  /**
   * OpenID Connect / OAuth providers as a JSON array:
   * `[{"name":"corp","issuer":"https://id.example.com","clientId":"…","clientSecret":"…"}]`;
   * `"preset": "google"` or `"github"` fills the endpoints (see README).
   */
  OIDC_PROVIDERS: z
    .string()
    .default('[]')
    .transform((v, ctx) => {
      try {
        return JSON.parse(v) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON array of providers' });
        return z.NEVER;
      }
    })
    .pipe(
      z.array(
        z.object({
          name: z.string().regex(/^[a-z0-9-]{1,32}$/, 'provider names are lower-case a-z, 0-9, -'),
          preset: z.enum(['google', 'github']).optional(),
          issuer: z.url().optional(),
          clientId: z.string().min(1),
          clientSecret: z.string().min(1),
          scopes: z.array(z.string()).optional(),
        }),
      ),
    ),
  /** Where the browser lands after an OIDC login (a front-end URL or path). */
  OIDC_SUCCESS_REDIRECT: z.string().min(1).default('/'),
  /** Master switch for rate limiting (tests and benchmarks may turn it off). */
  RATE_LIMIT_ENABLED: bool.default(true),
  /** Requests per client IP per minute across the API. Generous so a dev load test is not throttled. */
  RATE_LIMIT_PER_MINUTE: int(1, 10_000_000).default(20_000),
  /** Login/registration/password requests per client IP per minute. */
  RATE_LIMIT_AUTH_PER_MINUTE: int(1, 1_000_000).default(30),
  /** Failed logins per account per 15 minutes before that account is throttled. */
  RATE_LIMIT_LOGIN_PER_ACCOUNT: int(1, 1_000_000).default(10),
  /** A request still running after this long is answered 503 and abandoned. */
  REQUEST_TIMEOUT_MS: int(100, 600_000).default(15_000),
  /** Trust X-Forwarded-* headers (set true behind a load balancer so client IPs are right). */
  TRUST_PROXY: bool.default(false),
  /**
   * After SIGTERM, readiness answers 503 while the listener keeps accepting for this long, so
   * requests the load balancer routed before it deregistered the task still land.
   */
  SHUTDOWN_DRAIN_DELAY_MS: int(0, 60_000).default(3_000),
  /**
   * After the drain delay: how long in-flight requests may take; then connections are cut, pools
   * closed forcefully and the process exits 1. Drain + this + SHUTDOWN_EXIT_MARGIN_MS must fit the
   * platform's stop timeout and deregistration delay (30 s).
   */
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(20_000),
  /** Largest accepted request body. */
  BODY_LIMIT_BYTES: int(1024, 50 * 1024 * 1024).default(1024 * 1024),
  /** Deepest nesting of arrays and objects a JSON body may have (checked before parsing). */
  BODY_MAX_DEPTH: int(2, 512).default(32),
  /** Most values (array elements and object members) a JSON body may hold. */
  BODY_MAX_ELEMENTS: int(10, 10_000_000).default(10_000),
  /** Comma-separated allowed CORS origins, or `*`. */
  CORS_ORIGINS: z.string().default('*'),
  /** Publish the worker's QueueBacklog/FailedJobs to CloudWatch (namespace Plinth); on in AWS. */
  CLOUDWATCH_METRICS: bool.default(false),
  /** Jobs one worker task runs at once, per queue. */
  WORKER_CONCURRENCY: int(1, 100).default(4),
  /** How long a worker's SIGTERM waits for active jobs; below the ECS stop timeout (120 s). */
  WORKER_SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(110_000),
  /**
   * How long a worker holds a job's lock (renewed every third of it); a crashed worker's job runs
   * again elsewhere after about twice this. See queueSettings() in service/src/jobs/contracts.ts.
   */
  JOB_LOCK_DURATION_MS: int(500, 600_000).default(15_000),
  /**
   * First retry delay of every queue, overriding the contracts' (email 10 s, maintenance 5 s);
   * later retries double it, with jitter. For tests and drills that need quick retries.
   */
  JOB_BACKOFF_DELAY_MS: int(1, 3_600_000).optional(),
  /** How often an idle outbox relay looks for new rows (a full batch is followed at once). */
  OUTBOX_POLL_MS: int(10, 60_000).default(200),
  /** Outbox rows one relay claims and hands to Bull per transaction. */
  OUTBOX_BATCH_SIZE: int(1, 10_000).default(500),
  /** Sent outbox rows (and email delivery records) older than this are purged daily. */
  OUTBOX_RETENTION_DAYS: int(1, 3650).default(7),
  /** Audit-log entries older than this are purged daily. */
  AUDIT_LOG_RETENTION_DAYS: int(1, 36_500).default(365),
  /** Followers notified per fan-out batch job (one INSERT … SELECT each). */
  NOTIFICATION_BATCH_SIZE: int(1, 100_000).default(1_000),
  /** Trending tags count the articles of this many recent days (and their favorites). */
  TRENDING_WINDOW_DAYS: int(1, 3650).default(14),
  /**
   * The platform's bucket for user files (avatars, exports): set, objects go to S3 (credentials
   * from the task role); unset, to STORAGE_DIR. See service/src/storage.
   */
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name')
    .optional(),
  /** Where user files go without S3_BUCKET (dev, tests, a single host). */
  STORAGE_DIR: z.string().min(1).default('.local/storage'),
  /**
   * How long a data export's download link works; each GET of the export signs a fresh one. On S3
   * a presigned link also dies with the task role's temporary credentials (hours): keep it short.
   */
  EXPORT_LINK_TTL_SECONDS: int(60, 7 * 24 * 3600).default(15 * 60),
  /** A done data export (file and record) is deleted this many days after it was built. */
  EXPORT_RETENTION_DAYS: int(1, 365).default(7),
  /** Data exports a user may request per 24 hours (more: 429 until the oldest is a day old). */
  EXPORT_MAX_PER_DAY: int(1, 1000).default(5),
  /** Rows an export reads per query (and per progress update). */
  EXPORT_PAGE_SIZE: int(1, 10_000).default(500),
  /** Largest avatar file `PUT /api/user/avatar` accepts (413 beyond); the JSON body limit does not apply. */
  AVATAR_MAX_BYTES: int(1024, 50 * 1024 * 1024).default(5 * 1024 * 1024),
  /**
   * Most pixels (width × height, read from the header before decoding) an avatar may declare
   * (422 beyond): a small file can declare a huge image that would take gigabytes to decode.
   */
  AVATAR_MAX_PIXELS: int(1024, 268_402_689).default(25_000_000),
  /** SMTP server for email (SES's SMTP interface in AWS). Unset: emails are rendered and logged, not sent. */
  SMTP_HOST: z.string().min(1).optional(),
  /** SMTP port: 465 is TLS from the start, others upgrade with STARTTLS. @default 587 */
  SMTP_PORT: int(1, 65535).optional(),
  SMTP_USER: z.string().min(1).optional(),
  SMTP_PASSWORD: z.string().min(1).optional(),
  /** Sender address (`Plinth <no-reply@example.com>` or a bare address); its domain names Message-IDs. */
  SMTP_FROM: z
    .string()
    .regex(/@[A-Za-z0-9.-]+>?$/, 'must be an email address, e.g. Plinth <no-reply@example.com>')
    .default('Plinth <no-reply@plinth.local>'),
  /** Emails sent per second at most, across all workers (SES's sending rate). */
  EMAIL_RATE_PER_SECOND: int(1, 10_000).default(10),
  ARGON2_MEMORY_KIB: int(1024, 1024 * 1024).default(19_456),
  ARGON2_TIME_COST: int(1, 10).default(2),
  ARGON2_PARALLELISM: int(1, 16).default(1),
});

/** The variables above, with the checks that span several of them. */
export const configSchema = configFields.superRefine((c, ctx) => {
  // A CA file that nothing would use is a mistake: the operator believes something is verified.
  if (c.DATABASE_SSL_CA_FILE && c.DATABASE_SSL !== 'verify-full') {
    ctx.addIssue({
      code: 'custom',
      path: ['DATABASE_SSL_CA_FILE'],
      message: `is used only with DATABASE_SSL=verify-full (DATABASE_SSL is ${c.DATABASE_SSL})`,
    });
  }
  const rywMinimum = c.DATABASE_REPLICA_MAX_LAG_MS + 2 * c.DATABASE_REPLICA_HEALTH_INTERVAL_MS;
  if (c.DATABASE_REPLICA_RYW_TTL_MS < rywMinimum) {
    // A floor that expires while a replica that has not reached it may still be read would let
    // the user read older data than their own write.
    ctx.addIssue({
      code: 'custom',
      path: ['DATABASE_REPLICA_RYW_TTL_MS'],
      message: `must be at least DATABASE_REPLICA_MAX_LAG_MS + 2 × DATABASE_REPLICA_HEALTH_INTERVAL_MS (${rywMinimum})`,
    });
  }
  if (c.REDIS_TLS_CA_FILE && !c.REDIS_URL.startsWith('rediss:')) {
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_TLS_CA_FILE'],
      message: 'is used only with a rediss:// REDIS_URL (TLS)',
    });
  }
});

export type Config = z.infer<typeof configSchema>;

/**
 * How long after its shutdown timeout a process may still take to exit: forced pool closes and
 * the last log lines. A watchdog exits at timeout + this at the latest.
 */
export const SHUTDOWN_EXIT_MARGIN_MS = 2_000;

const SECRET_KEYS = new Set([
  'JWT_SECRET',
  'JWT_PREVIOUS_SECRETS',
  'DATABASE_PASSWORD',
  'REDIS_AUTH_TOKEN',
  'OIDC_PROVIDERS',
  'SMTP_PASSWORD',
]);

const HINTS: Partial<Record<keyof Config, string>> = {
  DATABASE_URL: 'Set it to your PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/plinth',
  REDIS_URL: 'Set it to your Redis URL, e.g. redis://127.0.0.1:6379',
  JWT_SECRET: 'Set it to a random string of 32+ characters, e.g. `openssl rand -base64 48`',
};

/** Shows a value in an error message without leaking secrets or URL passwords. */
function describeValue(key: string, value: string | undefined): string {
  if (value === undefined) return 'it is not set';
  if (SECRET_KEYS.has(key)) return `it is set (${value.length} characters, value hidden)`;
  try {
    const u = new URL(value);
    if (u.password) u.password = '***';
    return `got "${u.toString()}"`;
  } catch {
    return `got "${value.slice(0, 80)}"`;
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Validates the environment; throws ConfigError naming every bad variable and how to fix it. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input = Object.fromEntries(
    Object.keys(configSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = String(issue.path[0]);
    const raw = input[key];
    const what = raw === undefined ? 'is required' : issue.message;
    const hint = HINTS[key as keyof Config];
    return `${key} ${what}; ${describeValue(key, raw)}.${hint ? ` ${hint}.` : ''}`;
  });
  throw new ConfigError(problems);
}

/** DATABASE_URL with DATABASE_USER / DATABASE_PASSWORD applied. */
export function databaseUrl(
  config: Pick<Config, 'DATABASE_URL' | 'DATABASE_USER' | 'DATABASE_PASSWORD'>,
): string {
  const u = new URL(config.DATABASE_URL);
  if (config.DATABASE_USER) u.username = encodeURIComponent(config.DATABASE_USER);
  if (config.DATABASE_PASSWORD) u.password = encodeURIComponent(config.DATABASE_PASSWORD);
  return u.toString();
}

/** The host of a PostgreSQL URL as a client connects to it (an IPv6 address without brackets). */
export function databaseHost(url: string): string {
  return decodeURIComponent(new URL(url).hostname).replace(/^\[(.*)\]$/, '$1');
}

/** The database host and port, for error messages (never the credentials). */
export function databaseTarget(config: Pick<Config, 'DATABASE_URL'>): string {
  const u = new URL(config.DATABASE_URL);
  return `${u.hostname}:${u.port || 5432}${u.pathname}`;
}
