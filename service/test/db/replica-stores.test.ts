// The streaming replica that scripts/stores.sh makes (tests, the local topology and CI use it):
// a real hot standby of a private primary, whose replay can be paused, and which survives a stop
// and a crash.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connectReachableOrm, type Orm } from '../../src/db/orm.js';
import { startPrivateReplicaSet, type PrivateReplicaSet } from '../support/stores.js';
import { until } from '../support/wait.js';

let set: PrivateReplicaSet;
let primary: Orm;
let replica: Orm | undefined;

const connect = (url: string) =>
  connectReachableOrm({ DATABASE_URL: url, DATABASE_SSL: 'disable', DATABASE_POOL_MAX: 2 });

async function query<T = Record<string, unknown>>(orm: Orm, sql: string, params: unknown[] = []) {
  return (await orm.em.getConnection().execute(sql, params)) as T[];
}

/** The notes the replica can read now. */
async function replicaNotes(): Promise<string[]> {
  const rows = await query<{ note: string }>(replica!, 'select note from smoke order by id');
  return rows.map((r) => r.note);
}

async function write(note: string): Promise<string> {
  await query(primary, 'insert into smoke (note) values (?)', [note]);
  const [row] = await query<{ lsn: string }>(primary, 'select pg_current_wal_lsn() as lsn');
  return row!.lsn;
}

beforeAll(async () => {
  set = await startPrivateReplicaSet();
  primary = await connect(set.primary.url);
  await query(primary, 'create table smoke (id serial primary key, note text not null)');
  await set.replica.catchUp();
  replica = await connect(set.replica.url);
}, 60_000);

afterAll(async () => {
  await replica?.close(true);
  await primary?.close(true);
  await set?.remove();
});

describe('stores.sh replica-set', () => {
  it('gives the app its variables: the primary as DATABASE_URL, the replica as DATABASE_REPLICA_URLS', () => {
    expect(set.env).toEqual({
      DATABASE_URL: set.primary.url,
      DATABASE_REPLICA_URLS: set.replica.url,
    });
    expect(set.primary.port).not.toBe(set.replica.port);
  });

  it('when the primary commits a write, then the replica replays it, stays in recovery and refuses writes', async () => {
    await write('first');
    await set.replica.catchUp();
    expect(await replicaNotes()).toEqual(['first']);
    expect(await set.replica.lagBytes()).toBe(0);
    const [standby] = await query(replica!, 'select pg_is_in_recovery() as recovery');
    const [main] = await query(primary, 'select pg_is_in_recovery() as recovery');
    expect({ replica: standby!.recovery, primary: main!.recovery }).toEqual({
      replica: true,
      primary: false,
    });
    // Streaming, not a copy restored from files: the primary sees its WAL sender.
    const senders = await query(primary, 'select state from pg_stat_replication');
    expect(senders).toEqual([{ state: 'streaming' }]);
    await expect(query(replica!, "insert into smoke (note) values ('no')")).rejects.toThrow(
      /read-only transaction/,
    );
  });

  it('when replay is paused, then a new write arrives but stays invisible until replay resumes', async () => {
    await set.replica.pauseReplay();
    const lsn = await write('while paused');
    // The WAL has reached the replica (so only the pause holds it back)...
    await until(async () => {
      const [row] = await query<{ received: boolean }>(
        replica!,
        'select pg_last_wal_receive_lsn() >= ?::pg_lsn as received',
        [lsn],
      );
      return row!.received;
    });
    // ...and is not applied.
    expect(await replicaNotes()).toEqual(['first']);
    expect(await set.replica.lagBytes()).toBeGreaterThan(0);

    await set.replica.resumeReplay();
    await set.replica.catchUp();
    expect(await replicaNotes()).toEqual(['first', 'while paused']);
    expect(await set.replica.lagBytes()).toBe(0);
  });

  it('when the replica is stopped or killed, then it refuses connections, and started again it catches up', async () => {
    await replica!.close(true);
    replica = undefined;
    await set.replica.stop();
    await write('while stopped');
    await expect(connect(set.replica.url)).rejects.toThrow(/cannot connect to the database/);

    await set.replica.start();
    await set.replica.catchUp();
    replica = await connect(set.replica.url);
    expect(await replicaNotes()).toEqual(['first', 'while paused', 'while stopped']);

    await replica.close(true);
    replica = undefined;
    await set.replica.kill();
    await write('after a crash');
    await set.replica.start();
    await set.replica.catchUp();
    replica = await connect(set.replica.url);
    expect(await replicaNotes()).toEqual([
      'first',
      'while paused',
      'while stopped',
      'after a crash',
    ]);
  }, 60_000);
});
