// TLS to the data stores, against a PostgreSQL that refuses plain TCP and a Redis that speaks only
// TLS and wants AUTH (scripts/stores.sh tls), with certificates made for the run.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appRedisGuard } from '../../src/app.js';
import { ReadCache } from '../../src/cache.js';
import { loadConfig, type Config, type ConfigError } from '../../src/config.js';
import { connectReachableOrm } from '../../src/db/orm.js';
import { createQueue } from '../../src/jobs/queue.js';
import { MAINTENANCE_QUEUE } from '../../src/jobs/contracts.js';
import { createMetrics } from '../../src/metrics.js';
import { createRedis } from '../../src/redis.js';
import { testEnv, uniqueName } from '../support/env.js';
import { memoryLogger } from '../support/logs.js';
import { freePort, spawnEntry } from '../support/process.js';
import { startTlsStores, type TlsStores } from '../support/stores.js';
import { until } from '../support/wait.js';

let stores: TlsStores;

beforeAll(async () => {
  stores = await startTlsStores();
}, 60_000);

afterAll(async () => {
  await stores?.remove();
});

/** The app's configuration for the TLS stores, as `stores.sh tls env` prints it, plus overrides. */
const tlsConfig = (overrides: Record<string, string> = {}): Config =>
  loadConfig(testEnv(stores.env.DATABASE_URL!, { ...stores.env, ...overrides }));

const connect = (config: Config) => connectReachableOrm({ ...config, DATABASE_POOL_MAX: 1 });

/** Whether the session that runs this query is encrypted, as the server reports it. */
async function sessionIsEncrypted(config: Config): Promise<boolean> {
  const orm = await connect(config);
  try {
    const [row] = await orm.em
      .getConnection()
      .execute('select ssl from pg_stat_ssl where pid = pg_backend_pid()');
    return row!.ssl as boolean;
  } finally {
    await orm.close(true);
  }
}

/**
 * A server that answers node-postgres's SSLRequest with "S" and then offers `cert` in the TLS
 * handshake, as PostgreSQL does, then hangs up: enough to see whether the client accepts it.
 */
async function tlsHandshakeServer(cert: string, key: string): Promise<Server & { port: number }> {
  const server = createServer((socket) => {
    socket.once('data', () => {
      socket.write('S');
      const secure = new TLSSocket(socket, { isServer: true, cert, key });
      secure.on('secure', () => secure.end()).on('error', () => socket.destroy());
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return Object.assign(server, { port });
}

describe('PostgreSQL with DATABASE_SSL=verify-full', () => {
  it('when the certificate chains to DATABASE_SSL_CA_FILE and names the host, then the session is encrypted', async () => {
    expect(stores.env).toMatchObject({
      DATABASE_SSL: 'verify-full',
      DATABASE_SSL_CA_FILE: stores.caFile,
    });
    expect(await sessionIsEncrypted(tlsConfig())).toBe(true);
    const byName = stores.postgres.url.replace('127.0.0.1', 'localhost');
    expect(await sessionIsEncrypted(tlsConfig({ DATABASE_URL: byName }))).toBe(true);
  });

  it('when DATABASE_SSL_CA_FILE is a CA that did not sign it, then connecting fails and names the CA', async () => {
    const failure = connect(tlsConfig({ DATABASE_SSL_CA_FILE: stores.wrongCaFile }));
    await expect(failure).rejects.toThrow(/cannot connect to the database in DATABASE_URL/);
    await expect(failure).rejects.toThrow(
      `did not verify (DATABASE_SSL=verify-full) against DATABASE_SSL_CA_FILE (${stores.wrongCaFile})`,
    );
  });

  it('when no CA file is given, then only the Amazon RDS CAs are trusted and a private CA fails', async () => {
    const config = tlsConfig();
    delete config.DATABASE_SSL_CA_FILE;
    await expect(connect(config)).rejects.toThrow(/against the Amazon RDS CA bundle/);
  });

  it('when the certificate is signed by the CA but does not name the address connected to, then it is refused', async () => {
    const server = await tlsHandshakeServer(
      readFileSync(stores.localhostOnly.certFile, 'utf8'),
      readFileSync(stores.localhostOnly.keyFile, 'utf8'),
    );
    try {
      const url = (host: string) => `postgres://postgres@${host}:${server.port}/postgres`;
      // node-postgres gives Node no server name for an IP; the address must still be checked.
      await expect(connect(tlsConfig({ DATABASE_URL: url('127.0.0.1') }))).rejects.toThrow(
        /IP: 127\.0\.0\.1 is not in the cert's list.*or does not name the host in DATABASE_URL/,
      );
      // The same certificate by its name gets past verification (the stand-in then hangs up).
      await expect(connect(tlsConfig({ DATABASE_URL: url('localhost') }))).rejects.toThrow(
        /Check DATABASE_URL/,
      );
    } finally {
      server.close();
    }
  });

  it('when TLS is off or unverified, then the server decides: plain TCP is refused, require encrypts without checking', async () => {
    const plain = tlsConfig({ DATABASE_SSL: 'disable', DATABASE_SSL_CA_FILE: '' });
    await expect(connect(plain)).rejects.toThrow(/no encryption/);
    const unverified = tlsConfig({ DATABASE_SSL: 'require', DATABASE_SSL_CA_FILE: '' });
    expect(await sessionIsEncrypted(unverified)).toBe(true);
  });

  it('when the CA file is unusable or would go unused, then the configuration is refused naming it', () => {
    const refused = (overrides: Record<string, string>) => {
      try {
        tlsConfig(overrides);
      } catch (err) {
        return (err as ConfigError).problems.join('\n');
      }
      throw new Error('expected a ConfigError');
    };
    expect(refused({ DATABASE_SSL_CA_FILE: '/nonexistent/ca.crt' })).toMatch(
      /^DATABASE_SSL_CA_FILE must name a readable PEM file holding at least one certificate; got "\/nonexistent\/ca.crt"/,
    );
    expect(refused({ DATABASE_SSL: 'require' })).toMatch(
      /^DATABASE_SSL_CA_FILE is used only with DATABASE_SSL=verify-full \(DATABASE_SSL is require\)/,
    );
    expect(refused({ REDIS_URL: 'redis://127.0.0.1:6379' })).toMatch(
      /^REDIS_TLS_CA_FILE is used only with a rediss:\/\/ REDIS_URL/,
    );
  });
});

describe('Redis with rediss:// and AUTH', () => {
  it('when the app client connects with the token and the private CA, then commands work', async () => {
    const config = tlsConfig();
    expect(config.REDIS_URL).toMatch(/^rediss:\/\/127\.0\.0\.1:\d+$/);
    const { logger } = memoryLogger();
    const redis = createRedis(config, logger);
    try {
      await redis.connect();
      await redis.set('tls:probe', 'over tls');
      expect(await redis.get('tls:probe')).toBe('over tls');
    } finally {
      redis.disconnect();
    }
  });

  it('when the read cache has a client of its own (REDIS_CACHE_URL), then it fills and hits over TLS with AUTH', async () => {
    const config = tlsConfig({
      REDIS_CACHE_URL: stores.env.REDIS_URL!,
      REDIS_KEY_PREFIX: `${uniqueName('tlscache')}:`,
    });
    expect(config.REDIS_CACHE_URL).toMatch(/^rediss:\/\//);
    const { logger } = memoryLogger();
    const cacheRedis = createRedis(config, logger, config.REDIS_CACHE_URL);
    try {
      await cacheRedis.connect();
      const cache = new ReadCache(
        appRedisGuard(cacheRedis, config, logger),
        config,
        createMetrics(),
      );
      let fills = 0;
      const read = () =>
        cache.read(
          { read: 'tags', generations: ['tags'], id: 'tls' },
          { role: 'primary', all: async () => [] },
          async () => {
            fills += 1;
            return { value: ['tls'], text: '["tls"]', cacheable: true };
          },
        );
      expect((await read()).hit).toBe(false);
      expect(await read()).toMatchObject({ text: '["tls"]', hit: true });
      expect(fills).toBe(1);
    } finally {
      cacheRedis.disconnect();
    }
  });

  it.each([
    ['the token is wrong', { REDIS_AUTH_TOKEN: 'not-the-password' }, /WRONGPASS/],
    ['the CA did not sign it', { REDIS_TLS_CA_FILE: '' }, /certificate/],
  ])(
    'when %s, then commands fail at once and the reason is logged',
    async (_, overrides, reason) => {
      const { logger, logs } = memoryLogger();
      const redis = createRedis(tlsConfig(overrides), logger);
      try {
        await redis.connect().catch(() => undefined);
        await expect(redis.ping()).rejects.toThrow();
        await until(() => logs.some((l) => l.msg === 'redis error' && reason.test(String(l.err))));
      } finally {
        redis.disconnect();
      }
    },
  );

  it("when Bull's client, subscriber and blocking connections use it, then a job is enqueued and processed", async () => {
    const config = tlsConfig({ REDIS_KEY_PREFIX: `${uniqueName('tls')}:` });
    const { logger, logs } = memoryLogger();
    const queue = createQueue(MAINTENANCE_QUEUE, config, logger);
    try {
      const done = new Promise<unknown>((resolve) => queue.on('global:completed', resolve));
      void queue.process('tls-probe', async (job) => ({ echoed: job.data.value }));
      const job = await queue.add('tls-probe', { value: 42 });
      await done;
      expect(await (await queue.getJob(job.id))?.finished()).toEqual({ echoed: 42 });
      expect(logs.filter((l) => l.level === 'warn')).toEqual([]);
    } finally {
      await queue.close();
    }
  });
});

describe('the service process on TLS stores', () => {
  it('when started with the variables `stores.sh tls env` prints, then it is ready with both stores up', async () => {
    const port = await freePort();
    const service = spawnEntry(
      'service/src/server.ts',
      testEnv(stores.env.DATABASE_URL!, { ...stores.env, PORT: String(port), LOG_LEVEL: 'info' }),
    );
    try {
      await service.waitFor('service listening', 60_000);
      const res = await fetch(`http://127.0.0.1:${port}/health/ready`);
      expect({ status: res.status, body: await res.json() }).toEqual({
        status: 200,
        body: { status: 'ready', checks: { database: 'up', redis: 'up' } },
      });
    } finally {
      service.child.kill('SIGTERM');
      await service.exited;
    }
  }, 90_000);
});
