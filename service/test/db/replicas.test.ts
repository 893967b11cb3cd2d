// Replica discovery against mocked RDS answers: the AWS API is the one edge that cannot run here.
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  DBInstanceNotFoundFault,
  DescribeDBInstancesCommand,
  RDSClient,
  type DBInstance,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { loadConfig } from '../../src/config.js';
import { RdsReplicaDiscovery, replicaList } from '../../src/db/replicas.js';
import { memoryLogger } from '../support/logs.js';

const PRIMARY = 'plinth-prod-db';
const PRIMARY_URL = 'postgres://rds.internal:5432/plinth?application_name=api';

const rds = mockClient(RDSClient);
const client = new RDSClient({ region: 'eu-west-1' });

/** RDS's description of a replica. */
const replica = (id: string, status = 'available', port = 5432): DBInstance => ({
  DBInstanceIdentifier: id,
  DBInstanceStatus: status,
  Endpoint: { Address: `${id}.abc123.eu-west-1.rds.amazonaws.com`, Port: port },
});

/** RDS answers: the primary lists `replicas` (and `extraIds`); each replica describes itself. */
function rdsReports(replicas: DBInstance[], extraIds: string[] = []) {
  rds.reset();
  rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: PRIMARY }).resolves({
    DBInstances: [
      {
        DBInstanceIdentifier: PRIMARY,
        DBInstanceStatus: 'available',
        ReadReplicaDBInstanceIdentifiers: [
          ...replicas.map((r) => r.DBInstanceIdentifier!),
          ...extraIds,
        ],
      },
    ],
  });
  for (const r of replicas) {
    rds
      .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: r.DBInstanceIdentifier })
      .resolves({ DBInstances: [r] });
  }
}

const host = (id: string) => `${id}.abc123.eu-west-1.rds.amazonaws.com`;
const urlOf = (id: string, port = 5432) =>
  `postgres://${host(id)}:${port}/plinth?application_name=api`;

let logs: Record<string, unknown>[];
let discovery: RdsReplicaDiscovery;

beforeEach(() => {
  const memory = memoryLogger();
  logs = memory.logs;
  discovery = new RdsReplicaDiscovery({
    rds: client,
    primaryInstanceId: PRIMARY,
    primaryUrl: PRIMARY_URL,
    refreshMs: 60_000,
    logger: memory.logger,
  });
});

afterEach(() => {
  discovery.stop();
  jest.useRealTimers();
});

describe('replica discovery from RDS', () => {
  it("when the primary has replicas, then the available ones are listed with the primary's database and options", async () => {
    rdsReports([
      replica('plinth-prod-db-replica-2', 'available', 5433),
      replica('plinth-prod-db-replica-1'),
      replica('plinth-prod-db-replica-3', 'creating'),
      replica('plinth-prod-db-replica-4', 'rebooting'),
    ]);
    expect(await discovery.refresh()).toEqual([
      urlOf('plinth-prod-db-replica-1'),
      urlOf('plinth-prod-db-replica-2', 5433),
    ]);
    expect(discovery.urls()).toHaveLength(2);
    // Each instance is described by its identifier: the task's IAM policy names exactly these.
    const asked = rds
      .commandCalls(DescribeDBInstancesCommand)
      .map((c) => c.args[0].input.DBInstanceIdentifier);
    expect(asked.sort()).toEqual([
      PRIMARY,
      'plinth-prod-db-replica-1',
      'plinth-prod-db-replica-2',
      'plinth-prod-db-replica-3',
      'plinth-prod-db-replica-4',
    ]);
    expect(logs).toContainEqual(
      expect.objectContaining({
        msg: 'read replicas discovered',
        replicas: [
          `${host('plinth-prod-db-replica-1')}:5432/plinth`,
          `${host('plinth-prod-db-replica-2')}:5433/plinth`,
        ],
      }),
    );
  });

  it('when a replica is in another region or deleted between the calls, then it is left out and the rest kept', async () => {
    rdsReports(
      [replica('plinth-prod-db-replica-1')],
      ['arn:aws:rds:us-west-2:123456789012:db:far-away-replica', 'plinth-prod-db-replica-9'],
    );
    rds
      .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'plinth-prod-db-replica-9' })
      .rejects(new DBInstanceNotFoundFault({ message: 'gone', $metadata: {} }));
    expect(await discovery.refresh()).toEqual([urlOf('plinth-prod-db-replica-1')]);
    expect(
      rds
        .commandCalls(DescribeDBInstancesCommand)
        .some((c) => c.args[0].input.DBInstanceIdentifier?.startsWith('arn:')),
    ).toBe(false);
  });

  it('when RDS fails, then the last good list is kept and the failure is logged once until it recovers', async () => {
    rdsReports([replica('plinth-prod-db-replica-1')]);
    await discovery.refresh();

    rds.reset();
    rds.on(DescribeDBInstancesCommand).rejects(new Error('Rate exceeded'));
    expect(await discovery.refresh()).toEqual([urlOf('plinth-prod-db-replica-1')]);
    expect(await discovery.refresh()).toEqual([urlOf('plinth-prod-db-replica-1')]);
    const failures = logs.filter(
      (l) => l.msg === 'replica discovery failed; keeping the last list',
    );
    expect(failures).toEqual([
      expect.objectContaining({ level: 'warn', err: 'Rate exceeded', keptReplicas: 1 }),
    ]);

    rdsReports([replica('plinth-prod-db-replica-1'), replica('plinth-prod-db-replica-2')]);
    expect(await discovery.refresh()).toHaveLength(2);
    expect(logs.map((l) => l.msg)).toContain('replica discovery recovered');
  });

  it('when the primary does not exist, then that is the logged failure and the list stays as it was', async () => {
    rds.reset();
    rds
      .on(DescribeDBInstancesCommand)
      .rejects(new DBInstanceNotFoundFault({ message: 'DBInstance not found', $metadata: {} }));
    expect(await discovery.refresh()).toEqual([]);
    expect(logs).toContainEqual(
      expect.objectContaining({ err: `RDS has no DB instance "${PRIMARY}"` }),
    );
  });

  it('when started, then it refreshes every refreshMs, so a replica the platform adds is found without a restart', async () => {
    jest.useFakeTimers();
    const changes: (readonly string[])[] = [];
    discovery = new RdsReplicaDiscovery({
      rds: client,
      primaryInstanceId: PRIMARY,
      primaryUrl: PRIMARY_URL,
      refreshMs: 30_000,
      logger: memoryLogger().logger,
      onChange: (urls) => changes.push(urls),
    });
    rdsReports([replica('plinth-prod-db-replica-1')]);
    expect(await discovery.start()).toHaveLength(1);

    rdsReports([replica('plinth-prod-db-replica-1'), replica('plinth-prod-db-replica-2')]);
    await jest.advanceTimersByTimeAsync(29_000);
    expect(discovery.urls()).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(discovery.urls()).toHaveLength(2);

    // An unchanged answer is no change.
    await jest.advanceTimersByTimeAsync(30_000);
    expect(changes.map((urls) => urls.length)).toEqual([1, 2]);

    discovery.stop();
    const calls = rds.commandCalls(DescribeDBInstancesCommand).length;
    await jest.advanceTimersByTimeAsync(120_000);
    expect(rds.commandCalls(DescribeDBInstancesCommand)).toHaveLength(calls);
  });

  it('when two refreshes overlap, then RDS is asked one round', async () => {
    rdsReports([replica('plinth-prod-db-replica-1')]);
    const [a, b] = await Promise.all([discovery.refresh(), discovery.refresh()]);
    expect(a).toEqual(b);
    expect(rds.commandCalls(DescribeDBInstancesCommand)).toHaveLength(2);
  });
});

describe('replicaList from the configuration', () => {
  const config = (env: Record<string, string>) =>
    loadConfig({
      DATABASE_URL: 'postgres://db.internal:5432/plinth',
      REDIS_URL: 'redis://127.0.0.1:6379',
      JWT_SECRET: 'x'.repeat(40),
      ...env,
    });

  it('when nothing is configured, then there are no replicas and RDS is never asked', () => {
    rds.reset();
    expect(replicaList(config({}), memoryLogger().logger, () => client)).toBeUndefined();
    expect(rds.calls()).toHaveLength(0);
  });

  it('when DATABASE_REPLICA_URLS is set, then it is the list as given, even with RDS_PRIMARY_INSTANCE_ID', () => {
    rds.reset();
    const { logger, logs: lines } = memoryLogger();
    const list = replicaList(
      config({
        DATABASE_REPLICA_URLS:
          ' postgres://r1.internal:5432/plinth, postgres://r2.internal:6432/plinth ',
        RDS_PRIMARY_INSTANCE_ID: PRIMARY,
      }),
      logger,
      () => client,
    );
    expect(list?.urls()).toEqual([
      'postgres://r1.internal:5432/plinth',
      'postgres://r2.internal:6432/plinth',
    ]);
    expect(rds.calls()).toHaveLength(0);
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: 'read replicas from DATABASE_REPLICA_URLS',
        ignored: 'RDS_PRIMARY_INSTANCE_ID',
      }),
    );
  });

  it('when RDS_PRIMARY_INSTANCE_ID is set, then discovery starts at once and repeats at DATABASE_REPLICA_REFRESH_MS', async () => {
    jest.useFakeTimers();
    rdsReports([replica('plinth-prod-db-replica-1')]);
    const list = replicaList(
      config({ RDS_PRIMARY_INSTANCE_ID: PRIMARY, DATABASE_REPLICA_REFRESH_MS: '15000' }),
      memoryLogger().logger,
      () => client,
    );
    try {
      await jest.advanceTimersByTimeAsync(0);
      // The primary's URL with the replica's endpoint.
      expect(list?.urls()).toEqual([`postgres://${host('plinth-prod-db-replica-1')}:5432/plinth`]);
      expect(rds.commandCalls(DescribeDBInstancesCommand)).toHaveLength(2);
      await jest.advanceTimersByTimeAsync(15_000);
      expect(rds.commandCalls(DescribeDBInstancesCommand)).toHaveLength(4);
    } finally {
      list?.stop();
    }
  });

  it('when a replica URL or the instance identifier is malformed, then the configuration names it', () => {
    expect(() => config({ DATABASE_REPLICA_URLS: 'postgres://ok:5432/p,mysql://no/p' })).toThrow(
      /DATABASE_REPLICA_URLS must be a URL starting with postgres: or postgresql:/,
    );
    expect(() => config({ RDS_PRIMARY_INSTANCE_ID: 'not an id!' })).toThrow(
      /RDS_PRIMARY_INSTANCE_ID must be an RDS DB instance identifier/,
    );
  });

  it('when the read-your-writes floor would expire before a lagging replica is skipped, then the configuration names the minimum', () => {
    expect(() =>
      config({
        DATABASE_REPLICA_MAX_LAG_MS: '10000',
        DATABASE_REPLICA_HEALTH_INTERVAL_MS: '2000',
        DATABASE_REPLICA_RYW_TTL_MS: '13999',
      }),
    ).toThrow(
      /DATABASE_REPLICA_RYW_TTL_MS must be at least DATABASE_REPLICA_MAX_LAG_MS \+ 2 × DATABASE_REPLICA_HEALTH_INTERVAL_MS \(14000\)/,
    );
    expect(
      config({
        DATABASE_REPLICA_MAX_LAG_MS: '10000',
        DATABASE_REPLICA_RYW_TTL_MS: '14000',
        DATABASE_REPLICA_HEALTH_INTERVAL_MS: '2000',
      }).DATABASE_REPLICA_RYW_TTL_MS,
    ).toBe(14000);
  });
});
