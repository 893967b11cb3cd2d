import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  CreateDBSnapshotCommand,
  DBInstanceNotFoundFault,
  DeleteDBSnapshotCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
  type DBSnapshot,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { UsageError } from '../../release/cli.js';
import {
  CREATED_BY_TAG,
  parseSnapshotArgs,
  snapshotName,
  snapshotPrimary,
  type SnapshotOptions,
} from '../../release/snapshot.js';

const INSTANCE = 'plinth-staging-db';
const NOW = new Date('2026-11-30T05:15:00.123Z');
const NEW_SNAPSHOT = 'plinth-staging-db-release-20261130t051500z';

/** One of this program's snapshots, `daysAgo` old. */
const ours = (daysAgo: number): DBSnapshot => ({
  DBSnapshotIdentifier: `${INSTANCE}-release-2026110${daysAgo}t000000z`,
  DBInstanceIdentifier: INSTANCE,
  SnapshotType: 'manual',
  Status: 'available',
  SnapshotCreateTime: new Date(NOW.getTime() - daysAgo * 86_400_000),
  TagList: [{ ...CREATED_BY_TAG }],
});

const rds = mockClient(RDSClient);
const client = new RDSClient({ region: 'eu-west-1' });
const lines: string[] = [];
const options = (overrides: Partial<SnapshotOptions> = {}): SnapshotOptions => ({
  instance: INSTANCE,
  retain: 3,
  maxWaitMinutes: 1,
  dryRun: false,
  pollSeconds: 1,
  now: NOW,
  ...overrides,
});
const run = (overrides: Partial<SnapshotOptions> = {}) =>
  snapshotPrimary(client, options(overrides), (line) => lines.push(line));
/** The inputs of every call of one command, in order. */
const calls = <C extends { input: object }>(command: new (...args: never[]) => C) =>
  rds.commandCalls(command as never).map((c) => c.args[0].input as C['input']);

beforeEach(() => {
  rds.reset();
  lines.length = 0;
  rds
    .on(DescribeDBInstancesCommand)
    .resolves({ DBInstances: [{ DBInstanceIdentifier: INSTANCE, DBInstanceStatus: 'available' }] });
});

describe('release step: snapshot', () => {
  it('when the DB instance does not exist yet (first deploy), then it skips without creating anything', async () => {
    rds
      .on(DescribeDBInstancesCommand)
      .rejects(new DBInstanceNotFoundFault({ message: 'not found', $metadata: {} }));

    const result = await run();

    expect(result).toEqual({ outcome: 'skipped', reason: expect.stringContaining('first deploy') });
    expect(calls(CreateDBSnapshotCommand)).toEqual([]);
    expect(lines.join('\n')).toContain(`${INSTANCE} does not exist yet`);
  });

  it('creates a tagged snapshot, waits until it is available, then prunes only its own older snapshots beyond the retention count', async () => {
    const fresh: DBSnapshot = {
      ...ours(0),
      DBSnapshotIdentifier: NEW_SNAPSHOT,
      SnapshotCreateTime: NOW,
    };
    const notOurs: DBSnapshot[] = [
      // Taken by a person: right prefix, no tag.
      { ...ours(5), DBSnapshotIdentifier: `${INSTANCE}-release-manual-copy`, TagList: [] },
      // Tagged, but another naming scheme.
      { ...ours(6), DBSnapshotIdentifier: 'before-upgrade' },
    ];
    rds.on(CreateDBSnapshotCommand).resolves({ DBSnapshot: { ...fresh, Status: 'creating' } });
    rds
      .on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: NEW_SNAPSHOT })
      .resolvesOnce({ DBSnapshots: [{ ...fresh, Status: 'creating' }] })
      .resolves({ DBSnapshots: [fresh] });
    rds
      .on(DescribeDBSnapshotsCommand, { DBInstanceIdentifier: INSTANCE, SnapshotType: 'manual' })
      // Two pages, in no particular order.
      .resolves({ DBSnapshots: [ours(3), ...notOurs, fresh, ours(1)], Marker: 'page-2' });
    rds.on(DescribeDBSnapshotsCommand, { Marker: 'page-2' }).resolves({
      DBSnapshots: [ours(2), ours(4)],
    });
    rds.on(DeleteDBSnapshotCommand).resolves({});

    const result = await run({ retain: 3 });

    expect(calls(CreateDBSnapshotCommand)).toEqual([
      {
        DBInstanceIdentifier: INSTANCE,
        DBSnapshotIdentifier: NEW_SNAPSHOT,
        Tags: [{ Key: 'plinth:created-by', Value: 'release-snapshot' }],
      },
    ]);
    // Polled until available: once "creating", then "available".
    expect(calls(DescribeDBSnapshotsCommand).filter((i) => i.DBSnapshotIdentifier)).toHaveLength(2);
    // Keeps the new one and the two newest older ones; never touches the others.
    const deleted = calls(DeleteDBSnapshotCommand).map((i) => i.DBSnapshotIdentifier);
    expect(deleted).toEqual([ours(3).DBSnapshotIdentifier, ours(4).DBSnapshotIdentifier]);
    expect(result).toEqual({ outcome: 'created', snapshot: NEW_SNAPSHOT, pruned: deleted });
  });

  it('when the snapshot fails, then it exits with an error and prunes nothing', async () => {
    rds.on(DescribeDBSnapshotsCommand, { DBInstanceIdentifier: INSTANCE }).resolves({
      DBSnapshots: [ours(1), ours(2), ours(3), ours(4)],
    });
    rds.on(CreateDBSnapshotCommand).resolves({});
    rds.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: NEW_SNAPSHOT }).resolves({
      DBSnapshots: [{ ...ours(0), DBSnapshotIdentifier: NEW_SNAPSHOT, Status: 'failed' }],
    });

    await expect(run({ retain: 1 })).rejects.toThrow(
      `snapshot ${NEW_SNAPSHOT} did not become available within 1 min`,
    );
    expect(calls(DeleteDBSnapshotCommand)).toEqual([]);
  });

  it('when the instance is busy (backing up), then it waits for it to be available before creating', async () => {
    rds
      .on(DescribeDBInstancesCommand)
      .resolvesOnce({ DBInstances: [{ DBInstanceStatus: 'backing-up' }] })
      .resolvesOnce({ DBInstances: [{ DBInstanceStatus: 'backing-up' }] })
      .resolves({ DBInstances: [{ DBInstanceStatus: 'available' }] });
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [] });
    rds.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: NEW_SNAPSHOT }).resolves({
      DBSnapshots: [{ ...ours(0), DBSnapshotIdentifier: NEW_SNAPSHOT }],
    });
    rds.on(CreateDBSnapshotCommand).resolves({});

    await run();

    expect(calls(DescribeDBInstancesCommand).length).toBeGreaterThanOrEqual(3);
    expect(calls(CreateDBSnapshotCommand)).toHaveLength(1);
    expect(lines.join('\n')).toContain('is backing-up; waiting');
  }, 15_000);

  it('when the instance is stopped, then it fails at once with the fix instead of waiting', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ DBInstanceStatus: 'stopped' }] });

    await expect(run()).rejects.toThrow(`${INSTANCE} is stopped: start it`);
    expect(calls(CreateDBSnapshotCommand)).toEqual([]);
  });

  it('with --dry-run, it only reads and says what it would create and delete', async () => {
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [ours(1), ours(2), ours(3)] });

    const result = await run({ dryRun: true, retain: 2 });

    expect(result).toEqual({
      outcome: 'planned',
      snapshot: NEW_SNAPSHOT,
      pruned: [ours(2).DBSnapshotIdentifier, ours(3).DBSnapshotIdentifier],
    });
    expect(calls(CreateDBSnapshotCommand)).toEqual([]);
    expect(calls(DeleteDBSnapshotCommand)).toEqual([]);
    expect(lines.join('\n')).toContain(`would create ${NEW_SNAPSHOT}`);
  });

  it('names snapshots so that they sort by time and are valid RDS identifiers', () => {
    const name = snapshotName(INSTANCE, NOW);
    expect(name).toBe(NEW_SNAPSHOT);
    expect(name).toMatch(/^[a-z][a-z0-9-]{0,254}$/);
    expect(name).not.toMatch(/--|-$/);
    expect(snapshotName(INSTANCE, new Date('2026-12-01T00:00:00Z')) > name).toBe(true);
  });
});

describe('snapshot command line', () => {
  it('takes the instance from --instance, else DB_INSTANCE_IDENTIFIER, else RDS_PRIMARY_INSTANCE_ID', () => {
    expect(parseSnapshotArgs(['--instance', 'a-db'], {}).instance).toBe('a-db');
    expect(parseSnapshotArgs([], { DB_INSTANCE_IDENTIFIER: 'b-db' }).instance).toBe('b-db');
    expect(parseSnapshotArgs([], { RDS_PRIMARY_INSTANCE_ID: 'c-db' })).toEqual({
      instance: 'c-db',
      retain: 5,
      maxWaitMinutes: 60,
      dryRun: false,
    });
    expect(
      parseSnapshotArgs(
        ['--instance', 'a', '--retain', '2', '--region', 'eu-west-1', '--dry-run'],
        {},
      ),
    ).toMatchObject({ retain: 2, region: 'eu-west-1', dryRun: true });
  });

  it.each([
    [[], 'give the primary'],
    [['--instance', '1-starts-with-a-digit'], 'give the primary'],
    [['--instance', 'db', '--retain', '0'], '--retain must be a whole number'],
    [['--instance', 'db', '--max-wait-minutes', 'soon'], '--max-wait-minutes must be'],
  ])('rejects %j with a usage error that says the fix', (argv, message) => {
    expect(() => parseSnapshotArgs(argv, {})).toThrow(UsageError);
    expect(() => parseSnapshotArgs(argv, {})).toThrow(message);
  });
});
