import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config.js';
import { Passwords } from '../../src/modules/users/passwords.js';
import { Tokens } from '../../src/modules/users/tokens.js';
import { uniqueUser } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';

const OLD = 'old-signing-secret-that-is-long-enough-000000';
const NEW = 'new-signing-secret-that-is-long-enough-111111';
const tokensWith = (env: Record<string, string>) =>
  new Tokens(
    loadConfig({ DATABASE_URL: 'postgres://x@y/z', REDIS_URL: 'redis://x', ...env } as never),
  );

describe('token key rotation', () => {
  it('when the secret rotates and the old one is kept as previous, then old tokens still verify', async () => {
    const before = await tokensWith({ JWT_SECRET: OLD }).sign(7);
    const rotated = tokensWith({ JWT_SECRET: NEW, JWT_PREVIOUS_SECRETS: OLD });
    expect(await rotated.verify(before)).toMatchObject({ userId: 7 });
    const fresh = await rotated.sign(8);
    expect(JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString()).kid).not.toBe(
      JSON.parse(Buffer.from(before.split('.')[0]!, 'base64url').toString()).kid,
    );
  });

  it('when the previous secret is finally dropped, then tokens signed with it are rejected', async () => {
    const before = await tokensWith({ JWT_SECRET: OLD }).sign(7);
    expect(await tokensWith({ JWT_SECRET: NEW }).verify(before)).toBeUndefined();
  });
});

describe('passwords', () => {
  let server: TestServer;
  const passwords = new Passwords({
    ARGON2_MEMORY_KIB: 4096,
    ARGON2_TIME_COST: 1,
    ARGON2_PARALLELISM: 1,
  });
  beforeAll(async () => {
    server = await startTestServer({}, { appDeps: { passwords } });
  });
  afterAll(() => server.close());

  it('when the email is unknown, then login still spends exactly one password verification', async () => {
    const before = passwords.verifications;
    const res = await server.api.post('/users/login', {
      body: { user: { email: 'nobody-here@example.com', password: 'whatever-password' } },
    });
    expect(res.status).toBe(401);
    expect(passwords.verifications - before).toBe(1);
  });

  it('when the email is known but the password wrong, then the same one verification and the same error', async () => {
    const user = await server.api.register();
    const before = passwords.verifications;
    const wrong = await server.api.post('/users/login', {
      body: { user: { email: user.email, password: 'not the password' } },
    });
    const unknown = await server.api.post('/users/login', {
      body: { user: { email: `x${user.email}`, password: 'not the password' } },
    });
    expect(passwords.verifications - before).toBe(2);
    expect(wrong.body.errors).toEqual(unknown.body.errors);
  });

  it('when the hashing parameters change, then the next login rehashes the stored hash', async () => {
    const user = uniqueUser();
    await server.api.post('/users', { body: { user } });
    const conn = server.orm.em.fork().getConnection();
    const read = async () =>
      String(
        (await conn.execute('select password_hash from users where email = ?', [user.email]))[0]!
          .password_hash,
      );
    expect(await read()).toMatch(/^\$argon2id\$v=19\$m=4096,t=1,p=1\$/);
    const stronger = await startTestServer(
      { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '2' },
      { databaseUrl: server.db.url },
    );
    try {
      const login = await stronger.api.post('/users/login', {
        body: { user: { email: user.email, password: user.password } },
      });
      expect(login.status).toBe(200);
      expect(await read()).toMatch(/^\$argon2id\$v=19\$m=8192,t=2,p=1\$/);
      const again = await stronger.api.post('/users/login', {
        body: { user: { email: user.email, password: user.password } },
      });
      expect(again.status).toBe(200);
    } finally {
      await stronger.close();
    }
  });
});
