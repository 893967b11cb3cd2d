/**
 * GraphQL is no way around brute-force protection: with the production defaults
 * (RATE_LIMIT_LOGIN_PER_ACCOUNT = 10 per 15 minutes), the failed login after the per-account
 * budget is refused — even with the right password — whether the attempts come as separate
 * requests, as aliases in one document, or as one batched request. Each scenario uses its own
 * account and client address, so the per-IP auth budget (30 a minute) is not what refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Account } from '../support/client.js';
import { errorCodes, graphql, graphqlBatch } from '../support/graphql.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let octet = 0;
/** A client address of its own (the load balancer's X-Forwarded-For entry). */
const client = () => ({ 'X-Forwarded-For': `203.0.113.${++octet}` });

const LOGIN = `mutation Login($input: LoginInput!) {
  login(input: $input) { __typename ... on AuthPayload { token } }
}`;

beforeAll(async () => {
  server = await startTestServer({ RATE_LIMIT_ENABLED: 'true', TRUST_PROXY: 'true' });
  expect(server.config.RATE_LIMIT_LOGIN_PER_ACCOUNT).toBe(10);
}, 60_000);

afterAll(async () => server?.close());

/** The right password, after the budget: still refused (the account is locked). */
async function rightPasswordRefused(account: Account) {
  const res = await graphql(server.baseUrl, LOGIN, {
    headers: client(),
    variables: { input: { email: account.email, password: account.password } },
  });
  expect(errorCodes(res)).toEqual(['RATE_LIMITED']);
  expect(res.body.errors![0]!.extensions!.retryAfterSeconds).toBeGreaterThan(0);
}

const wrong = (account: Account, i: number) => ({
  input: { email: account.email, password: `wrong password ${i}` },
});

describe('the 11th failed login of one account is refused', () => {
  it('as separate requests (each from another address)', async () => {
    const account = await server.register('separate');
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < 11; i += 1) {
      const res = await graphql(server.baseUrl, LOGIN, {
        headers: client(),
        variables: wrong(account, i),
      });
      codes.push(...errorCodes(res));
    }
    expect(codes).toEqual([...Array(10).fill('UNAUTHENTICATED'), 'RATE_LIMITED']);
    await rightPasswordRefused(account);
  });

  it('as aliases in one document', async () => {
    const account = await server.register('aliases');
    const fields = Array.from(
      { length: 11 },
      (_, i) =>
        `a${i}: login(input: { email: "${account.email}", password: "wrong ${i}" }) { __typename }`,
    );
    const res = await graphql(server.baseUrl, `mutation { ${fields.join('\n')} }`, {
      headers: client(),
    });
    // Mutation fields run one after another: ten failures, then the lock.
    expect(errorCodes(res)).toEqual([...Array(10).fill('UNAUTHENTICATED'), 'RATE_LIMITED']);
    expect(res.body.errors![10]!.path).toEqual(['a10']);
    await rightPasswordRefused(account);
  });

  it('as one batched request (operations run concurrently)', async () => {
    const account = await server.register('batch');
    const res = await graphqlBatch(
      server.baseUrl,
      Array.from({ length: 11 }, (_, i) => ({ query: LOGIN, variables: wrong(account, i) })),
      { headers: client() },
    );
    expect(res.status).toBe(200);
    const codes = (res.body as { errors?: { extensions?: { code?: string } }[] }[]).map(
      (r) => r.errors?.[0]?.extensions?.code,
    );
    // Which one is refused depends on scheduling; exactly one is, and none got through.
    expect(codes.filter((c) => c === 'UNAUTHENTICATED')).toHaveLength(10);
    expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(1);
    await rightPasswordRefused(account);
  });

  it('and each login field spends the per-IP auth budget, aliases included', async () => {
    const from = client();
    const fields = Array.from(
      { length: 15 },
      (_, i) =>
        `a${i}: login(input: { email: "nobody${i}@example.com", password: "x" }) { __typename }`,
    );
    const document = `mutation { ${fields.join('\n')} }`;
    const first = await graphql(server.baseUrl, document, { headers: from });
    expect(errorCodes(first)).toEqual(Array(15).fill('UNAUTHENTICATED'));
    const second = await graphql(server.baseUrl, document, { headers: from });
    // 30 a minute per address: the 31st login field is refused.
    expect(errorCodes(second)).toEqual(Array(15).fill('UNAUTHENTICATED'));
    const third = await graphql(server.baseUrl, document, { headers: from });
    expect(errorCodes(third)).toEqual(Array(15).fill('RATE_LIMITED'));
  });
});
