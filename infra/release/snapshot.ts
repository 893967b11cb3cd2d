/**
 * Release step `snapshot`: before a stage deploys (and migrates), takes a manual snapshot of the
 * environment's primary database, waits until it is available, then deletes this program's
 * older snapshots beyond a retention count.
 *
 *   tsx infra/release/snapshot.ts --instance plinth-staging-db [--retain 5]
 *     [--max-wait-minutes 60] [--region eu-west-1] [--dry-run]
 *
 * The instance comes from `--instance`, else `DB_INSTANCE_IDENTIFIER`, else
 * `RDS_PRIMARY_INSTANCE_ID`. When the instance does not exist (the first deploy) it says so and
 * exits 0. Only snapshots this program made are ever deleted: their identifier starts with
 * `<instance>-release-` AND they carry the tag `plinth:created-by=release-snapshot`; manual
 * snapshots taken by people and automated backups are never touched. A snapshot that fails or
 * does not become available in time exits 1 and prunes nothing. `--dry-run` makes only read
 * calls and prints what it would create and delete.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  CreateDBSnapshotCommand,
  DBInstanceNotFoundFault,
  DeleteDBSnapshotCommand,
  DescribeDBInstancesCommand,
  paginateDescribeDBSnapshots,
  RDSClient,
  waitUntilDBInstanceAvailable,
  waitUntilDBSnapshotAvailable,
  type DBSnapshot,
} from '@aws-sdk/client-rds';
import { runProgram, UsageError } from './cli.js';

export const CREATED_BY_TAG = { Key: 'plinth:created-by', Value: 'release-snapshot' } as const;

export interface SnapshotOptions {
  /** The primary's DB instance identifier, e.g. `plinth-staging-db`. */
  instance: string;
  /** How many of this program's snapshots to keep, the new one included. @default 5 */
  retain: number;
  /** Longest wait for the instance, then for the snapshot, to be available. @default 60 */
  maxWaitMinutes: number;
  /** Read only: print what would be created and deleted. @default false */
  dryRun: boolean;
  /** Seconds between polls while waiting. @default 30 (the SDK's RDS waiter default) */
  pollSeconds?: number;
  /** The clock, for the snapshot's name. @default now */
  now?: Date;
}

export type SnapshotResult =
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'created' | 'planned'; snapshot: string; pruned: string[] };

/** `<instance>-release-`: the identifier prefix of every snapshot this program makes. */
export function snapshotPrefix(instance: string): string {
  return `${instance}-release-`;
}

/** `<instance>-release-20261130t051500z`: sortable, unique per second, valid for RDS. */
export function snapshotName(instance: string, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d{3}Z$/, 'z')
    .replace(/[-:]/g, '')
    .toLowerCase();
  return `${snapshotPrefix(instance)}${stamp}`;
}

/** True for a snapshot this program made for `instance` (prefix and tag, both). */
export function isReleaseSnapshot(snapshot: DBSnapshot, instance: string): boolean {
  return (
    (snapshot.DBSnapshotIdentifier ?? '').startsWith(snapshotPrefix(instance)) &&
    (snapshot.TagList ?? []).some(
      (t) => t.Key === CREATED_BY_TAG.Key && t.Value === CREATED_BY_TAG.Value,
    )
  );
}

/** This program's snapshots of `instance`, newest first. */
async function releaseSnapshots(client: RDSClient, instance: string): Promise<DBSnapshot[]> {
  const found: DBSnapshot[] = [];
  const pages = paginateDescribeDBSnapshots(
    { client },
    { DBInstanceIdentifier: instance, SnapshotType: 'manual' },
  );
  for await (const page of pages) {
    found.push(...(page.DBSnapshots ?? []).filter((s) => isReleaseSnapshot(s, instance)));
  }
  const time = (s: DBSnapshot) => s.SnapshotCreateTime?.getTime() ?? 0;
  return found.sort(
    (a, b) =>
      time(b) - time(a) ||
      (b.DBSnapshotIdentifier ?? '').localeCompare(a.DBSnapshotIdentifier ?? ''),
  );
}

/** Which snapshots to delete so that `retain` remain, given the newest-first list plus `keep`. */
export function toPrune(existing: DBSnapshot[], keep: string, retain: number): string[] {
  const others = existing.map((s) => s.DBSnapshotIdentifier!).filter((id) => id !== keep);
  return others.slice(Math.max(retain - 1, 0));
}

export async function snapshotPrimary(
  client: RDSClient,
  options: SnapshotOptions,
  log: (line: string) => void = console.log,
): Promise<SnapshotResult> {
  const { instance } = options;
  const waiter = {
    client,
    maxWaitTime: options.maxWaitMinutes * 60,
    minDelay: options.pollSeconds ?? 30,
    maxDelay: Math.max(options.pollSeconds ?? 30, 120),
  };

  let status: string | undefined;
  try {
    const { DBInstances } = await client.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: instance }),
    );
    status = DBInstances?.[0]?.DBInstanceStatus;
  } catch (error) {
    if (!(error instanceof DBInstanceNotFoundFault)) throw error;
    const reason = `DB instance ${instance} does not exist yet (first deploy): nothing to snapshot`;
    log(`snapshot: ${reason}`);
    return { outcome: 'skipped', reason };
  }

  const snapshot = snapshotName(instance, options.now ?? new Date());
  if (options.dryRun) {
    const pruned = toPrune(await releaseSnapshots(client, instance), snapshot, options.retain);
    log(`snapshot: dry run: ${instance} is ${status}; would create ${snapshot}`);
    log(`snapshot: dry run: would keep ${options.retain}, deleting ${pruned.join(', ') || 'none'}`);
    return { outcome: 'planned', snapshot, pruned };
  }

  // RDS snapshots an instance only when it is available (USER_CreateSnapshot in the RDS guide).
  if (status === 'stopped') {
    throw new Error(
      `${instance} is stopped: start it (aws rds start-db-instance) before deploying; ` +
        `the migration needs it too`,
    );
  }
  if (status !== 'available') {
    log(
      `snapshot: ${instance} is ${status}; waiting up to ${options.maxWaitMinutes} min for available`,
    );
    await waitUntilDBInstanceAvailable(waiter, { DBInstanceIdentifier: instance });
  }
  log(`snapshot: creating ${snapshot} of ${instance}`);
  await client.send(
    new CreateDBSnapshotCommand({
      DBInstanceIdentifier: instance,
      DBSnapshotIdentifier: snapshot,
      Tags: [{ ...CREATED_BY_TAG }],
    }),
  );
  try {
    await waitUntilDBSnapshotAvailable(waiter, { DBSnapshotIdentifier: snapshot });
  } catch (error) {
    throw new Error(
      `snapshot ${snapshot} did not become available within ${options.maxWaitMinutes} min ` +
        `(${(error as Error).message}); nothing was pruned`,
      { cause: error },
    );
  }
  log(`snapshot: ${snapshot} is available`);

  // Listed once the new snapshot is available, so the count includes it.
  const pruned = toPrune(await releaseSnapshots(client, instance), snapshot, options.retain);
  for (const id of pruned) {
    log(`snapshot: deleting ${id} (keeping the newest ${options.retain})`);
    await client.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: id }));
  }
  return { outcome: 'created', snapshot, pruned };
}

/** Parses and checks the command line; throws UsageError with the fix on bad input. */
export function parseSnapshotArgs(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): SnapshotOptions & { region?: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      instance: { type: 'string' },
      retain: { type: 'string', default: '5' },
      'max-wait-minutes': { type: 'string', default: '60' },
      region: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const instance = values.instance ?? env.DB_INSTANCE_IDENTIFIER ?? env.RDS_PRIMARY_INSTANCE_ID;
  if (!instance || !/^[a-zA-Z][a-zA-Z0-9-]{0,62}$/.test(instance) || /--|-$/.test(instance)) {
    throw new UsageError(
      `give the primary's DB instance identifier with --instance (or DB_INSTANCE_IDENTIFIER / ` +
        `RDS_PRIMARY_INSTANCE_ID); got "${instance ?? ''}"`,
    );
  }
  const positive = (name: string, value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number ≥ 1`);
    return n;
  };
  return {
    instance,
    retain: positive('retain', values.retain),
    maxWaitMinutes: positive('max-wait-minutes', values['max-wait-minutes']),
    dryRun: values['dry-run'],
    ...(values.region ? { region: values.region } : {}),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runProgram('snapshot', async () => {
    const { region, ...options } = parseSnapshotArgs(process.argv.slice(2));
    await snapshotPrimary(new RDSClient(region ? { region } : {}), options);
  });
}
