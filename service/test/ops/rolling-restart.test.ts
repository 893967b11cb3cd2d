import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DrillResult } from '../../../scripts/drill/harness.js';
import { rollingRestart } from '../../../scripts/drill/stack.js';
import { LocalStack } from '../../../scripts/stack/local-stack.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { TEST_REDIS_URL, uniqueName } from '../support/env.js';
import { report } from '../support/report.js';

/**
 * The rolling-restart drill of `npm run drill:stack`, bounded: two API processes behind a real
 * HAProxy (installed by scripts/ensure-haproxy.sh when missing), reads and writes through it
 * while each process in turn gets SIGTERM, drains, exits and is replaced. Not one request may
 * fail: a regression in graceful shutdown (readiness, drain delay, keep-alive closing, in-flight
 * requests) or in the load balancer's health checks fails here. The drain delay is shortened
 * to 2.5 s (production: 3 s); HAProxy needs about 0.6 s plus a check's response time to see it.
 */
describe('rolling restart behind HAProxy', () => {
  let db: TestDatabase;
  let dir: string;
  let stack: LocalStack | undefined;
  let result: DrillResult;

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
    dir = await mkdtemp(path.join(os.tmpdir(), 'plinth-rolling-'));
    stack = await LocalStack.start({
      dir,
      apis: 2,
      // The sources through tsx: the same shutdown code as dist/, without a build in the test.
      runner: 'source',
      stores: { databaseUrl: db.url, redisUrl: TEST_REDIS_URL },
      seed: false,
      worker: false,
      env: {
        REDIS_KEY_PREFIX: `${uniqueName('rolling')}:`,
        RATE_LIMIT_ENABLED: 'false',
        ARGON2_MEMORY_KIB: '4096',
        ARGON2_TIME_COST: '1',
        LOG_LEVEL: 'warn',
        SHUTDOWN_DRAIN_DELAY_MS: '2500',
        SHUTDOWN_TIMEOUT_MS: '20000',
      },
    });
    // Something to read: the drill's read mix opens an article and its author's profile.
    const created = await stack.fetch('/api/articles', {
      method: 'POST',
      headers: { Authorization: `Token ${stack.token}` },
      body: JSON.stringify({ article: { title: 'Rolling', description: 'd', body: 'b' } }),
    });
    expect(created.status).toBe(201);
    const started = Date.now();
    result = await rollingRestart.run(stack);
    report(
      `rolling restart in ${((Date.now() - started) / 1000).toFixed(1)} s: ${result.requests?.total} requests, ${result.requests?.ok} ok; ${result.notes.join('; ')}`,
    );
  }, 240_000);

  afterAll(async () => {
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
    await db?.drop();
  }, 60_000);

  it('serves every request while each API process drains and is replaced', () => {
    expect(result.failures).toEqual([]);
    expect(result.requests!.total).toBeGreaterThan(50);
    expect(result.requests!.ok).toBe(result.requests!.total);
  });

  it('keeps every acknowledged write', () => {
    expect(result.writes!.acked).toBeGreaterThan(0);
    expect(result.writes!.present).toBe(result.writes!.acked);
  });

  it('sends requests to both processes', () => {
    const spread = result.notes.find((n) => n.startsWith('requests per process'))!;
    const counts = [...spread.matchAll(/api\d (\d+)/g)].map((m) => Number(m[1]));
    expect(counts).toHaveLength(2);
    for (const n of counts) expect(n).toBeGreaterThan(0);
  });
});
