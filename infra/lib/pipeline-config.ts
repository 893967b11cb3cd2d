/**
 * Typed, validated configuration of the deployment pipeline (`-c pipeline=true`).
 *
 * The pipeline synthesizes itself from the repository on every push (self-mutation), so its
 * settings must be committed: edit {@link PIPELINE_SETTINGS} below, or put the context keys in
 * `cdk.json`. A `-c key=value` on the command line is seen by that one `cdk` run only.
 *
 * Context keys (flat strings): `account`, `region`, `azs`, `connectionArn`, `repository`,
 * `branch`, `snapshotRetain`, `stressDuration`, and per stage `<stage>.<key>` for any key of the
 * environment config (`staging.domainName`, `staging.certificateArn`, `prod.alarmEmail`,
 * `prod.corsOrigins`, …; see config.ts).
 */
import { ConfigError, DEFAULT_ACCOUNTS, ENV_NAMES, loadConfig } from './config.js';
import type { ContextReader, EnvName, PlinthConfig } from './config.js';

/** The environments the pipeline deploys, in order: staging, then (after approval) prod. */
export const PIPELINE_STAGES = ['staging', 'prod'] as const;
/** Name of a pipeline stage (= its environment). */
export type PipelineStageName = (typeof PIPELINE_STAGES)[number];

/** What one stage needs beyond its environment's defaults in config.ts. */
export interface PipelineStageSettings {
  /** API host name; staging and prod serve HTTPS only. Required. */
  readonly domainName?: string;
  /** ACM certificate for `domainName` in the pipeline's region. Required. */
  readonly certificateArn?: string;
  /** E-mail subscribed to the stage's alarm topic. @default no subscriber */
  readonly alarmEmail?: string;
}

/** Settings of the pipeline, as committed. */
export interface PipelineSettings {
  /**
   * Account of the pipeline and of both stages: the k6 steps run in CodeBuild inside each stage's
   * VPC, and CodeBuild can only join a VPC of its own account (docs/infra.md, "Pipeline").
   * @default staging's account in config.ts
   */
  readonly account?: string;
  /** Region of the pipeline and both stages. @default us-east-1 */
  readonly region?: string;
  /**
   * ARN of the CodeConnections (formerly CodeStar Connections) connection to GitHub, created and
   * authorized once in the console (README, "Delivery pipeline"). Required.
   */
  readonly connectionArn?: string;
  /** GitHub repository, `owner/name`. Required. */
  readonly repository?: string;
  /** Branch whose pushes are delivered. @default 'main' */
  readonly branch?: string;
  /** Per-stage settings. Domain and certificate are required for both. */
  readonly stages?: Partial<Record<PipelineStageName, PipelineStageSettings>>;
  /** Release snapshots kept per database (`snapshot.ts --retain`). @default 5 */
  readonly snapshotRetain?: number;
  /** Steady part of the staging stress run (k6 `DURATION`; the ramps add 7 minutes). @default '5m' */
  readonly stressDuration?: string;
}

/**
 * The committed pipeline settings: fill in `connectionArn`, `repository` and both stages' domain
 * and certificate before the first `cdk deploy -c pipeline=true`.
 */
export const PIPELINE_SETTINGS: PipelineSettings = {
  branch: 'main',
  stages: {},
  snapshotRetain: 5,
  stressDuration: '5m',
};

/** Validated pipeline configuration. */
export interface PipelineConfig {
  readonly account: string;
  readonly region: string;
  readonly connectionArn: string;
  /** `owner/name`. */
  readonly repository: string;
  readonly branch: string;
  readonly snapshotRetain: number;
  readonly stressDuration: string;
  /** Each stage's environment configuration, validated by config.ts. */
  readonly stages: Readonly<Record<PipelineStageName, PlinthConfig>>;
}

/** Inputs for {@link loadPipelineConfig}. */
export interface LoadPipelineConfigOptions {
  /** Context reader, usually `(k) => app.node.tryGetContext(k)`. */
  readonly context: ContextReader;
  /** Committed settings. @default {@link PIPELINE_SETTINGS} */
  readonly settings?: PipelineSettings;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/** Minutes (rounded up) of a k6 duration like `5m`, `90s` or `1h30m`; NaN for anything else. */
export function k6DurationMinutes(duration: string): number {
  const m = /^(?=\d)(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
  if (!m) return Number.NaN;
  const [, h = '0', min = '0', sec = '0'] = m;
  return Math.ceil(Number(h) * 60 + Number(min) + Number(sec) / 60);
}

/** What is wrong with a GitHub repository (`owner/name`) and branch, one line each. */
function sourceProblems(repository: string | undefined, branch: string): string[] {
  const p: string[] = [];
  if (!repository || !/^[\w.-]+\/[\w.-]+$/.test(repository)) {
    p.push(
      `repository must be the GitHub "owner/name" (got "${repository ?? ''}"): ` +
        'PIPELINE_SETTINGS.repository or -c repository=owner/name',
    );
  }
  if (!/^[\w./-]+$/.test(branch) || branch.includes('..')) {
    p.push(`branch "${branch}" is not a branch name`);
  }
  return p;
}

/** Environment-config keys a stage takes from the pipeline-wide context. */
const SHARED_KEYS = new Set(['account', 'region', 'azs']);

/**
 * Loads and validates the pipeline configuration and both stages' environment configurations.
 * Throws {@link ConfigError} naming every problem and the setting that fixes it.
 */
export function loadPipelineConfig(opts: LoadPipelineConfigOptions): PipelineConfig {
  const ctx = opts.context;
  const settings = opts.settings ?? PIPELINE_SETTINGS;
  const account = str(ctx('account')) ?? settings.account;
  const region = str(ctx('region')) ?? settings.region;
  const connectionArn = str(ctx('connectionArn')) ?? settings.connectionArn;
  const repository = str(ctx('repository')) ?? settings.repository;
  const branch = str(ctx('branch')) ?? settings.branch ?? 'main';
  const retain = str(ctx('snapshotRetain'));
  const snapshotRetain = retain !== undefined ? Number(retain) : (settings.snapshotRetain ?? 5);
  const stressDuration = str(ctx('stressDuration')) ?? settings.stressDuration ?? '5m';

  const p: string[] = [];
  if (!connectionArn) {
    p.push(
      'connectionArn is required: the ARN of a CodeConnections connection to GitHub ' +
        '(PIPELINE_SETTINGS in infra/lib/pipeline-config.ts, or -c connectionArn=arn:aws:codeconnections:...)',
    );
  } else if (
    !/^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection\/[0-9a-f-]+$/.test(
      connectionArn,
    )
  ) {
    p.push(
      `connectionArn "${connectionArn}" is not a connection ARN like ` +
        'arn:aws:codeconnections:us-east-1:123456789012:connection/<id>',
    );
  }
  p.push(...sourceProblems(repository, branch));
  if (!Number.isInteger(snapshotRetain) || snapshotRetain < 1 || snapshotRetain > 100) {
    p.push('snapshotRetain must be a whole number 1–100 (release snapshots kept per database)');
  }
  if (Number.isNaN(k6DurationMinutes(stressDuration))) {
    p.push(`stressDuration "${stressDuration}" must be a k6 duration like 5m, 90s or 1h30m`);
  }

  const stages: Partial<Record<PipelineStageName, PlinthConfig>> = {};
  for (const stage of PIPELINE_STAGES) {
    const given = settings.stages?.[stage] ?? {};
    const fixed: Record<string, string | undefined> = {
      env: stage,
      account,
      region,
      domainName: given.domainName,
      certificateArn: given.certificateArn,
      alarmEmail: given.alarmEmail,
    };
    const read: ContextReader = (key) =>
      str(ctx(`${stage}.${key}`)) ??
      fixed[key] ??
      (SHARED_KEYS.has(key) ? str(ctx(key)) : undefined) ??
      // prod follows staging into the same account and region (see PipelineSettings.account).
      (stage !== 'staging' && (key === 'account' || key === 'region')
        ? stages.staging?.[key]
        : undefined);
    for (const key of ['domainName', 'certificateArn'] as const) {
      if (!read(key)) {
        p.push(
          `stages.${stage}.${key} is required (${stage} serves HTTPS only): set it in ` +
            `PIPELINE_SETTINGS or pass -c ${stage}.${key}=...`,
        );
      }
    }
    try {
      stages[stage] = loadConfig({ context: read });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      // The HTTPS problem is reported above with the pipeline's own key names.
      p.push(
        ...error.problems
          .filter((problem) => !problem.includes('must serve HTTPS'))
          .map((problem) => `stages.${stage}: ${problem}`),
      );
    }
  }
  const { staging, prod } = stages;
  if (staging && prod && (staging.account !== prod.account || staging.region !== prod.region)) {
    p.push(
      `staging (${staging.account} ${staging.region}) and prod (${prod.account} ${prod.region}) ` +
        "must share the pipeline's account and region: the k6 steps run in CodeBuild inside each " +
        "stage's VPC, which CodeBuild can only join in its own account",
    );
  }
  if (p.length > 0) {
    throw new ConfigError(
      'pipeline',
      p,
      'Fix PIPELINE_SETTINGS in infra/lib/pipeline-config.ts (committed: the pipeline synthesizes ' +
        'itself from the repository) or the -c overrides.',
    );
  }
  return {
    account: staging!.account,
    region: staging!.region,
    connectionArn: connectionArn!,
    repository: repository!,
    branch,
    snapshotRetain,
    stressDuration,
    stages: { staging: staging!, prod: prod! },
  };
}

/** Configuration of the GitHub deploy role stack (`-c githubOidc=true`). */
export interface GitHubDeployConfig {
  /** The account the role deploys to. */
  readonly account: string;
  /** The region it deploys to. */
  readonly region: string;
  /** GitHub repository (`owner/name`) whose workflows may assume the role. */
  readonly repository: string;
  /** The only branch whose workflow runs may assume it. */
  readonly branch: string;
  /** Environments in this account whose release snapshots the role takes. */
  readonly envNames: readonly EnvName[];
  /**
   * The account's GitHub OIDC provider when it already exists (one per account).
   * @default the stack creates it
   */
  readonly oidcProviderArn?: string;
  /** Qualifier of the CDK bootstrap stack whose roles `cdk deploy` assumes. @default 'hnb659fds' */
  readonly bootstrapQualifier: string;
}

/** Inputs for {@link loadGitHubDeployConfig}. */
export interface LoadGitHubDeployConfigOptions extends LoadPipelineConfigOptions {
  /** Process environment (CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION). @default {} */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Loads and validates the GitHub deploy role's configuration: repository and branch as the
 * pipeline's (context, then PIPELINE_SETTINGS), account and region from context, the CDK CLI's
 * environment, then PIPELINE_SETTINGS. Throws {@link ConfigError}.
 */
export function loadGitHubDeployConfig(opts: LoadGitHubDeployConfigOptions): GitHubDeployConfig {
  const ctx = opts.context;
  const env = opts.env ?? {};
  const settings = opts.settings ?? PIPELINE_SETTINGS;
  const account =
    str(ctx('account')) ??
    str(env.CDK_DEFAULT_ACCOUNT) ??
    settings.account ??
    DEFAULT_ACCOUNTS.staging;
  const region =
    str(ctx('region')) ?? str(env.CDK_DEFAULT_REGION) ?? settings.region ?? 'us-east-1';
  const repository = str(ctx('repository')) ?? settings.repository;
  const branch = str(ctx('branch')) ?? settings.branch ?? 'main';
  const envNames = (str(ctx('envs')) ?? 'staging,prod').split(',').map((e) => e.trim());
  const oidcProviderArn = str(ctx('oidcProviderArn'));
  const bootstrapQualifier = str(ctx('bootstrapQualifier')) ?? 'hnb659fds';

  const p = sourceProblems(repository, branch);
  if (!/^\d{12}$/.test(account)) p.push(`account "${account}" must be a 12-digit AWS account id`);
  if (!/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(region))
    p.push(`region "${region}" is not a region name`);
  const unknown = envNames.filter((e) => !(ENV_NAMES as readonly string[]).includes(e));
  if (unknown.length > 0 || envNames.length === 0) {
    p.push(`envs must list environments of ${ENV_NAMES.join(', ')} (got "${envNames.join(',')}")`);
  }
  if (
    oidcProviderArn !== undefined &&
    !/^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/.test(
      oidcProviderArn,
    )
  ) {
    p.push(
      `oidcProviderArn "${oidcProviderArn}" is not the GitHub provider's ARN ` +
        '(arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com)',
    );
  }
  if (!/^[a-z0-9]{1,10}$/.test(bootstrapQualifier)) {
    p.push(`bootstrapQualifier "${bootstrapQualifier}" is not a CDK bootstrap qualifier`);
  }
  if (p.length > 0) {
    throw new ConfigError(
      'github-oidc',
      p,
      'Fix PIPELINE_SETTINGS in infra/lib/pipeline-config.ts or the -c overrides.',
    );
  }
  return {
    account,
    region,
    repository: repository!,
    branch,
    envNames: envNames as EnvName[],
    ...(oidcProviderArn ? { oidcProviderArn } : {}),
    bootstrapQualifier,
  };
}
