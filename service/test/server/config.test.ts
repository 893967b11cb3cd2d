import { describe, expect, it } from '@jest/globals';
import { ConfigError, databaseUrl, loadConfig } from '../../src/config.js';
import { testEnv } from '../support/env.js';
import { spawnEntry } from '../support/process.js';

const required = {
  DATABASE_URL: 'postgres://app:s3cret@db.internal:5432/plinth',
  REDIS_URL: 'redis://127.0.0.1:6379',
  JWT_SECRET: 'x'.repeat(40),
};

function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('when only the three required variables are set, then every other setting has its default', () => {
    const config = loadConfig(required);
    expect(config).toMatchObject({
      PORT: 3000,
      NODE_ENV: 'development',
      TRUST_PROXY: false,
      SHUTDOWN_DRAIN_DELAY_MS: 3_000,
      SHUTDOWN_TIMEOUT_MS: 20_000,
      BODY_LIMIT_BYTES: 1_048_576,
      BODY_MAX_DEPTH: 32,
      BODY_MAX_ELEMENTS: 10_000,
      REDIS_COMMAND_TIMEOUT_MS: 250,
      REDIS_CIRCUIT_OPEN_MS: 2_000,
      DATABASE_CONNECT_TIMEOUT_MS: 5_000,
      CORS_ORIGINS: '*',
    });
  });

  it('when required variables are missing, then each is named with how to fix it', () => {
    const found = problems({});
    expect(found).toHaveLength(3);
    expect(found.find((p) => p.startsWith('DATABASE_URL is required'))).toMatch(/postgres:\/\//);
    expect(found.find((p) => p.startsWith('REDIS_URL is required'))).toMatch(/redis:\/\//);
    expect(found.find((p) => p.startsWith('JWT_SECRET is required'))).toMatch(/32/);
  });

  it('when values are malformed, then the message names the variable and the value but never a secret', () => {
    const found = problems({
      ...required,
      DATABASE_URL: 'mysql://root:hunter2@localhost/db',
      JWT_SECRET: 'short-but-secret',
      PORT: 'eighty',
      TRUST_PROXY: 'maybe',
    });
    const text = found.join('\n');
    expect(text).toMatch(/DATABASE_URL must be a URL starting with postgres: or postgresql:/);
    expect(text).toContain('mysql://root:***@localhost/db');
    expect(text).not.toContain('hunter2');
    expect(text).toMatch(/JWT_SECRET must be at least 32 characters/);
    expect(text).not.toContain('short-but-secret');
    expect(text).toMatch(/PORT must be a whole number; got "eighty"/);
    expect(text).toMatch(/TRUST_PROXY/);
  });

  it('when DATABASE_USER and DATABASE_PASSWORD are set, then they replace the credentials in the URL', () => {
    const url = databaseUrl({ ...required, DATABASE_USER: 'svc', DATABASE_PASSWORD: 'p@ss/word' });
    expect(new URL(url).username).toBe('svc');
    expect(decodeURIComponent(new URL(url).password)).toBe('p@ss/word');
    expect(new URL(url).host).toBe('db.internal:5432');
  });
});

describe('service start-up with a bad DATABASE_URL', () => {
  it('when DATABASE_URL is not a PostgreSQL URL, then the process exits non-zero naming it', async () => {
    const proc = spawnEntry('service/src/server.ts', testEnv('not a url', { LOG_LEVEL: 'info' }));
    const { code } = await proc.exited;
    expect(code).not.toBe(0);
    expect(proc.stderr()).toContain('DATABASE_URL must be a URL starting with postgres:');
  }, 30_000);

  it('when DATABASE_URL points at no database server, then the process exits non-zero naming it', async () => {
    const proc = spawnEntry(
      'service/src/server.ts',
      testEnv('postgres://postgres@127.0.0.1:1/plinth', { LOG_LEVEL: 'info' }),
    );
    const { code } = await proc.exited;
    expect(code).not.toBe(0);
    expect(proc.stdout()).toContain(
      'cannot connect to the database in DATABASE_URL (127.0.0.1:1/plinth)',
    );
  }, 30_000);
});
