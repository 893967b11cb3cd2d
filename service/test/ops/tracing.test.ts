import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { compileBuild, logLines, startBuilt } from '../support/build.js';
import { ApiClient, uniqueUser } from '../support/client.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { testEnv } from '../support/env.js';
import { otlpReceiver, type OtlpReceiver } from '../support/otlp.js';
import { REPO_ROOT } from '../support/paths.js';
import { freePort, type Spawned } from '../support/process.js';
import { until } from '../support/wait.js';

/**
 * Traces on the production build: automatic instrumentation hooks Node's own module loader,
 * which jest's ESM runtime bypasses, so the API and the worker run compiled, as child processes,
 * with the SDK loaded by `--import` exactly as the image's entrypoint does.
 */
describe('traces across the API and the worker (production build)', () => {
  const outDir = path.join(REPO_ROOT, '.local', `tracing-test-${process.pid}`);
  const children: Spawned[] = [];
  let db: TestDatabase;
  let receiver: OtlpReceiver;

  /** Starts a compiled entry point with tracing; resolves once it logged `ready`. */
  async function start(entry: string, env: Record<string, string>, ready: string) {
    const proc = await startBuilt(
      outDir,
      entry,
      {
        ...testEnv(db.url, { LOG_LEVEL: 'info', ...env }),
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_TRACES_SAMPLER: 'always_on',
        OTEL_BSP_SCHEDULE_DELAY: '200',
      },
      ready,
      { nodeArgs: ['--import', path.join(outDir, 'dist/service/src/tracing.js')] },
    );
    children.push(proc);
    const metricsPort = logLines(proc).find((l) => typeof l.metricsPort === 'number')?.metricsPort;
    return { ...proc, metricsPort: metricsPort as number };
  }

  let api: Awaited<ReturnType<typeof start>>;
  let worker: Awaited<ReturnType<typeof start>>;
  let client: ApiClient;
  let requestId: string;

  beforeAll(async () => {
    await rm(outDir, { recursive: true, force: true });
    await mkdir(outDir, { recursive: true });
    const [database, otlp] = await Promise.all([
      createTestDatabase(),
      otlpReceiver(),
      compileBuild(outDir),
    ]);
    db = database;
    receiver = otlp;
    const port = await freePort();
    const shared = { REDIS_KEY_PREFIX: `trace${process.pid}:` };
    [api, worker] = await Promise.all([
      start(
        'service/src/server.js',
        // Rate limits on: every request then makes a Redis round trip (an ioredis span).
        { ...shared, PORT: String(port), HOST: '127.0.0.1', RATE_LIMIT_ENABLED: 'true' },
        'service listening',
      ),
      start('worker/src/main.js', { ...shared, OUTBOX_POLL_MS: '50' }, 'worker ready'),
    ]);
    client = new ApiClient(`http://127.0.0.1:${port}/api`);
    // Registration writes the user and a welcome-email outbox row; the worker sends the job.
    requestId = `trace-test-${process.pid}`;
    const res = await client.post('/users', {
      body: { user: uniqueUser('traced') },
      headers: { 'X-Request-Id': requestId },
    });
    expect(res.status).toBe(201);
    await until(
      () => receiver.spans.some((s) => s.service === 'plinth-worker' && s.kind === 5),
      30_000,
    );
    // The last spans of the job (its queries) follow its consumer span in the next export.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }, 240_000);

  afterAll(async () => {
    for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
    receiver?.server.close();
    await db?.drop();
    await rm(outDir, { recursive: true, force: true });
  });

  it('gives the request and the job it enqueued one trace: koa, pg and ioredis spans in the API, the job and its queries in the worker', () => {
    const root = receiver.spans.find(
      (s) => s.service === 'plinth-api' && s.kind === 2 && s.name.startsWith('POST'),
    );
    expect(root).toBeDefined();
    const trace = receiver.spans.filter((s) => s.traceId === root!.traceId);
    const scopes = (service: string) =>
      new Set(trace.filter((s) => s.service === service).map((s) => s.scope));
    expect(scopes('plinth-api')).toEqual(
      new Set([
        '@opentelemetry/instrumentation-http',
        '@opentelemetry/instrumentation-koa',
        '@opentelemetry/instrumentation-pg',
        '@opentelemetry/instrumentation-ioredis',
      ]),
    );
    const job = trace.find((s) => s.service === 'plinth-worker' && s.kind === 5);
    expect(job?.name).toBe('email process welcome-email');
    // The job's parent is a span of the request, and the job's queries are its children.
    expect(trace.some((s) => s.service === 'plinth-api' && s.spanId === job!.parentSpanId)).toBe(
      true,
    );
    expect(
      trace.some(
        (s) =>
          s.service === 'plinth-worker' &&
          s.scope === '@opentelemetry/instrumentation-pg' &&
          s.parentSpanId === job!.spanId,
      ),
    ).toBe(true);
  });

  it('stamps the trace and span ids on log lines, and the request id on the job’s lines', () => {
    const root = receiver.spans.find(
      (s) => s.service === 'plinth-api' && s.kind === 2 && s.name.startsWith('POST'),
    )!;
    const access = logLines(api).find((l) => l.requestId === requestId && l.msg === 'request');
    expect(access).toMatchObject({ trace_id: root.traceId, span_id: expect.any(String) });
    const jobLines = logLines(worker).filter((l) => l.requestId === requestId);
    expect(jobLines.length).toBeGreaterThan(0);
    for (const line of jobLines) {
      expect(line).toMatchObject({ trace_id: root.traceId, job: 'welcome-email' });
    }
    // Personal data stays out: the worker logs no e-mail address.
    expect(worker.stdout()).not.toMatch(/@example\.com/);
  });

  it('serves each process’s metrics on a listener of its own', async () => {
    for (const [proc, series] of [
      [api, 'http_requests_total{method="POST",route="/api/users",status="201"} 1'],
      [worker, 'plinth_jobs_completed_total{queue="email",job="welcome-email"} 1'],
    ] as const) {
      const text = await (await fetch(`http://127.0.0.1:${proc.metricsPort}/metrics`)).text();
      expect(text.split('\n')).toContain(series);
    }
  });
});
