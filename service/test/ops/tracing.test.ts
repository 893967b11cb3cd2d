import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiClient, uniqueUser } from '../support/client.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { testEnv } from '../support/env.js';
import { otlpReceiver, type OtlpReceiver } from '../support/otlp.js';
import { REPO_ROOT } from '../support/paths.js';
import { freePort } from '../support/process.js';
import { until } from '../support/wait.js';

const exec = promisify(execFile);

/**
 * Traces on the production build: automatic instrumentation hooks Node's own module loader,
 * which jest's ESM runtime bypasses, so the API and the worker run compiled, as child processes,
 * with the SDK loaded by `--import` exactly as the image's entrypoint does.
 */
describe('traces across the API and the worker (production build)', () => {
  const outDir = path.join(REPO_ROOT, '.local', `tracing-test-${process.pid}`);
  const dist = (entry: string) => path.join(outDir, 'dist', entry);
  const children: { child: ChildProcess; lines: Record<string, unknown>[] }[] = [];
  let db: TestDatabase;
  let receiver: OtlpReceiver;

  /** Starts a compiled entry point with tracing; resolves once it logged `ready`. */
  async function start(entry: string, env: Record<string, string>, ready: string) {
    const child = spawn(
      process.execPath,
      ['--import', dist('service/src/tracing.js'), dist(entry)],
      {
        cwd: REPO_ROOT,
        env: {
          ...testEnv(db.url, { LOG_LEVEL: 'info', ...env }),
          PATH: process.env.PATH,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
          OTEL_TRACES_SAMPLER: 'always_on',
          OTEL_BSP_SCHEDULE_DELAY: '200',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const proc = { child, lines: [] as Record<string, unknown>[] };
    children.push(proc);
    let stderr = '';
    let partial = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      const text = partial + d.toString();
      const parts = text.split('\n');
      partial = parts.pop()!;
      for (const line of parts) if (line.trim()) proc.lines.push(JSON.parse(line));
    });
    await until(() => {
      if (child.exitCode !== null) throw new Error(`${entry} exited: ${stderr}`);
      return proc.lines.some((l) => String(l.msg).startsWith(ready));
    }, 90_000).catch((err: Error) => {
      throw new Error(`${entry} did not log "${ready}": ${err.message}; stderr: ${stderr}`);
    });
    const metricsPort = proc.lines.find((l) => typeof l.metricsPort === 'number')?.metricsPort;
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
      exec(
        process.execPath,
        [
          path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc'),
          '-p',
          'tsconfig.build.json',
          '--outDir',
          path.join(outDir, 'dist'),
        ],
        { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 },
      ),
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
    const access = api.lines.find((l) => l.requestId === requestId && l.msg === 'request');
    expect(access).toMatchObject({ trace_id: root.traceId, span_id: expect.any(String) });
    const jobLines = worker.lines.filter((l) => l.requestId === requestId);
    expect(jobLines.length).toBeGreaterThan(0);
    for (const line of jobLines) {
      expect(line).toMatchObject({ trace_id: root.traceId, job: 'welcome-email' });
    }
    // Personal data stays out: the worker logs no e-mail address.
    expect(JSON.stringify(worker.lines)).not.toMatch(/@example\.com/);
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
