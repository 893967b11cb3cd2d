import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { censorNested, createLogger, NESTED_SECRETS } from '../../src/logger.js';

/** A logger at trace level whose lines land, parsed, in the returned array. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger({ level: 'trace' }, destination), lines };
}

describe('log redaction', () => {
  it('when a line holds a secret one level below any key, then that value is censored and the rest kept', () => {
    const { logger, lines } = capture();
    const given = {
      user: { id: 7, email: 'a@example.com', token: 'tok-1' },
      job: { name: 'mail', to: 'b@example.com', recipient: 'c@example.com' },
      oidc: { clientSecret: 'cs-1', accessToken: 'at-1', refreshToken: 'rt-1', state: 'ok' },
      body: { password: 'pw-1', newPassword: 'pw-2', passwordHash: 'h-1', csrfToken: 'c-1' },
      headers: { cookie: 'sid=1', authorization: 'Token 1', secret: 's-1', accept: '*/*' },
    };
    logger.info(given, 'nested');

    const line = lines[0]!;
    const text = JSON.stringify(line);
    for (const secret of ['a@example.com', 'tok-1', 'b@example.com', 'c@example.com', 'cs-1']) {
      expect(text).not.toContain(secret);
    }
    for (const secret of [
      'at-1',
      'rt-1',
      'pw-1',
      'pw-2',
      'h-1',
      'c-1',
      'sid=1',
      'Token 1',
      's-1',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(line).toMatchObject({
      user: { id: 7, email: '[Redacted]', token: '[Redacted]' },
      oidc: { state: 'ok', clientSecret: '[Redacted]' },
      headers: { accept: '*/*', cookie: '[Redacted]' },
    });
    // The caller's object is not changed.
    expect(given.user.email).toBe('a@example.com');
  });

  it('when a secret is a top-level field, a child logger binding or an error property, then it is censored', () => {
    const { logger, lines } = capture();
    const child = logger
      .child({ requestId: 'r-1', job: { email: 'd@example.com' } })
      .child({ jobId: 'j-1', mail: { to: 'f@example.com' } });
    const err = Object.assign(new Error('boom'), { token: 'tok-2', code: 'E_X' });
    child.error({ err, email: 'e@example.com', password: 'pw-3', note: 'kept' }, 'failed');

    const line = lines[0]!;
    const text = JSON.stringify(line);
    for (const secret of ['d@example.com', 'f@example.com', 'tok-2', 'e@example.com', 'pw-3']) {
      expect(text).not.toContain(secret);
    }
    expect(line).toMatchObject({ requestId: 'r-1', jobId: 'j-1', note: 'kept', msg: 'failed' });
    expect(line.err).toMatchObject({ message: 'boom', code: 'E_X', token: '[Redacted]' });
    expect(String((line.err as { stack: string }).stack)).toContain('boom');
  });

  it('when a line holds no secret, then censoring returns the very same object (nothing copied)', () => {
    const fields = {
      method: 'GET',
      url: '/api/tags',
      status: 200,
      nested: { ok: true },
      list: [1],
    };
    expect(censorNested(fields)).toBe(fields);
    for (const key of NESTED_SECRETS) {
      const censored = censorNested({ a: { [key]: 'x', keep: 1 } });
      expect(censored).toEqual({ a: { [key]: '[Redacted]', keep: 1 } });
    }
  });
});
