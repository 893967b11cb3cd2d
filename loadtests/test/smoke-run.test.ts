/**
 * The k6 bundles against the real API: each scenario's journeys run a few iterations under the
 * test-only k6 shim (k6-shim/, no k6 binary installs here), with PROFILE=smoke's thresholds and
 * the API's default rate limits, and must pass every check and threshold.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildBundles } from '../../scripts/loadtest-bundles.js';
import { startTestServer, type TestServer } from '../../service/test/support/server.js';
import { JOURNEY_NAMES } from '../lib/catalog.ts';
import { runTs } from './support/run-ts.ts';

const ITERATIONS = 2;
let server: TestServer;
let work: string;
let bundles: Record<string, string>;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'plinth-k6-'));
  bundles = Object.fromEntries(
    (await buildBundles(path.join(work, 'dist'))).map((b) => [b.scenario, b.file]),
  );
  // Production defaults, including the auth limit of 30 registrations a minute per IP.
  server = await startTestServer({ RATE_LIMIT_ENABLED: 'true' });
}, 60_000);

afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Runs a bundle under the shim in its own process (the shim blocks its thread on HTTP). */
async function runShim(scenario: string, env: Record<string, string>, args: string[] = []) {
  const resultsDir = mkdtempSync(path.join(work, `${scenario}-`));
  const run = await runTs(
    'loadtests/test/k6-shim/run.ts',
    [bundles[scenario]!, String(ITERATIONS), ...args],
    {
      PROFILE: 'smoke',
      THINK_TIME: '0',
      // Latency thresholds are evaluated, but at 100× the SLOs: a test must not depend on how
      // fast this shared machine happens to be (the k6 run against a real target keeps 1×).
      SLO_SCALE: '100',
      RESULTS_DIR: resultsDir,
      ...env,
    },
  );
  return { ...run, resultsDir };
}

describe('k6 bundles under the shim, PROFILE=smoke against the real API', () => {
  it.each(['mixed', 'browse', 'write-heavy'])(
    'the %s scenario passes every check and threshold',
    async (scenario) => {
      const run = await runShim(scenario, {
        BASE_URL: server.baseUrl,
      });
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      const summary = JSON.parse(
        readFileSync(path.join(run.resultsDir, `${scenario}-smoke.json`), 'utf8'),
      );
      expect(summary.passed).toBe(true);
      const latency = Object.keys(summary.metrics).filter((k) =>
        k.startsWith('http_req_duration{endpoint:'),
      );
      expect(latency.length).toBeGreaterThan(0);
      for (const key of latency) {
        expect(summary.metrics[key].values.count).toBeGreaterThan(0);
        expect(Object.values(summary.metrics[key].thresholds)).toEqual([
          { ok: true },
          { ok: true },
        ]);
      }
      expect(summary.setup_data).toBeUndefined(); // it holds the users' tokens
      expect(summary.metrics.checks.values.fails).toBe(0);
      expect(summary.metrics.http_req_failed.values.rate).toBe(0);
      const ran = JOURNEY_NAMES.filter((j) => summary.metrics[`journey_completed{journey:${j}}`]);
      expect(ran.length).toBeGreaterThan(0);
      for (const journey of ran) {
        expect(summary.metrics[`journey_completed{journey:${journey}}`].values).toMatchObject({
          passes: ITERATIONS,
          fails: 0,
        });
      }
      expect(run.stdout).toContain('RESULT: passed');
    },
    60_000,
  );

  it("k6's --iterations/--vus shortcuts run the default function, which picks journeys by weight", async () => {
    const run = await runShim('mixed', { BASE_URL: server.baseUrl }, ['--default']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const summary = JSON.parse(readFileSync(path.join(run.resultsDir, 'mixed-smoke.json'), 'utf8'));
    expect(summary.metrics.iterations.values.count).toBe(ITERATIONS);
    expect(summary.metrics.journey_completed.values).toMatchObject({
      passes: ITERATIONS,
      fails: 0,
    });
  }, 60_000);

  it('the graphql scenario runs its journey against /graphql (every operation of lib/graphql.ts)', async () => {
    const run = await runShim('graphql', { BASE_URL: server.baseUrl });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).toContain('RESULT: passed');
    const summary = JSON.parse(
      readFileSync(path.join(run.resultsDir, 'graphql-smoke.json'), 'utf8'),
    );
    expect(summary.metrics['journey_completed{journey:graphql}'].values).toMatchObject({
      passes: ITERATIONS,
      fails: 0,
    });
    expect(summary.metrics.graphql_errors.values.rate).toBe(0);
  }, 60_000);

  it('against a build without /graphql, setup stops before any other request and says GRAPHQL=0 leaves the journey out', async () => {
    const seen: string[] = [];
    const noGraphql: Server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const ready = req.url === '/health/ready';
      res.writeHead(ready ? 200 : 404, { 'Content-Type': 'application/json' });
      res.end(ready ? '{"status":"ready"}' : '{"errors":{"route":["does not exist"]}}');
    });
    await new Promise<void>((resolve) => noGraphql.listen(0, '127.0.0.1', resolve));
    const { port } = noGraphql.address() as AddressInfo;
    try {
      const run = await runShim('graphql', { BASE_URL: `http://127.0.0.1:${port}` });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(
        `GraphQL is not served at http://127.0.0.1:${port}/graphql (404)`,
      );
      expect(run.stderr).toContain('GRAPHQL=0');
      expect(seen).toEqual(['GET /health/ready', 'POST /graphql']);
    } finally {
      noGraphql.close();
    }
  }, 60_000);

  it('a crossed threshold fails the run (exit 99, like k6) and the summary names it', async () => {
    // SLOs scaled to 0 ms: no response can meet them, however fast the machine.
    const run = await runShim('browse', { BASE_URL: server.baseUrl, SLO_SCALE: '0.0001' });
    expect(run.code).toBe(99);
    expect(run.stderr).toContain('threshold crossed: http_req_duration{endpoint:list}: p(95)<0');
    expect(run.stdout).toMatch(/✗ http_req_duration\{endpoint:read\}\s+p\(99\)<0/);
    expect(run.stdout).toContain('RESULT: failed, 4 threshold(s) crossed');
  }, 60_000);

  it('when the target is not ready, setup stops the run before any API request', async () => {
    const seen: string[] = [];
    const notReady: Server = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(503, { 'Content-Type': 'application/json' });
      res.end('{"status":"unavailable"}');
    });
    await new Promise<void>((resolve) => notReady.listen(0, '127.0.0.1', resolve));
    const { port } = notReady.address() as AddressInfo;
    try {
      const run = await runShim('mixed', { BASE_URL: `http://127.0.0.1:${port}` });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(
        `target not ready: GET http://127.0.0.1:${port}/health/ready answered 503`,
      );
      expect(seen).toEqual(['/health/ready']);
    } finally {
      notReady.close();
    }
  }, 60_000);

  it('a bad setting stops the script at start-up and names the variable', async () => {
    const run = await runShim('mixed', { BASE_URL: server.baseUrl, PROFILE: 'heavy' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('PROFILE "heavy" is unknown; use one of smoke, average');
  }, 60_000);
});
