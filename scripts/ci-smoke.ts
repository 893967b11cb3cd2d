/**
 * `npm run ci:smoke [-- --scenario mixed --k6-script FILE --report-dir DIR --skip-build]`: the
 * production build, started and smoke-tested the way GitHub CI does it after the tests.
 *
 * 1. `npm run build` (unless --skip-build);
 * 2. a database of its own (created, migrated and seeded from `dist/`, as the image's `migrate`
 *    and `seed` commands do) and a Redis key prefix of its own, on the servers
 *    `TEST_DATABASE_URL` / `TEST_REDIS_URL` name (what `.ci/run` exports);
 * 3. `dist/service/src/server.js` with NODE_ENV=production on a free loopback port, and waits for
 *    `/health/ready`;
 * 4. with a `k6` on PATH: `npm run loadtest:build`, then k6 runs `loadtests/dist/<scenario>.js`
 *    (default `mixed`, or --k6-script) with PROFILE=smoke and BASE_URL, writing its summary to the
 *    report directory; without one it says it skipped k6 and checks a few requests instead;
 * 5. stops the server (SIGTERM; an unclean exit fails the run), drops the database, deletes the
 *    Redis keys, and exits with k6's status (or the checks').
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { bundlePath, findExecutable, runK6 } from '../infra/release/k6.js';
import { dropDatabase, ensureDatabase } from '../service/src/db/admin.js';
import { DEMO_USER } from '../service/src/db/seed-data.js';
import { freePort } from '../service/test/support/process.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const say = (line: string) => console.log(`ci:smoke: ${line}`);

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string', default: process.env.SMOKE_SCENARIO ?? 'mixed' },
    'k6-script': { type: 'string' },
    'report-dir': { type: 'string', default: process.env.SMOKE_REPORT_DIR ?? '.local/smoke' },
    'skip-build': { type: 'boolean', default: false },
  },
  strict: true,
});
const reportDir = path.resolve(args['report-dir']);

/** Runs a command to completion, output appended to `log` (else ours); resolves with its status. */
function run(command: string, argv: string[], env: NodeJS.ProcessEnv, log?: string) {
  return new Promise<number>((resolve, reject) => {
    const out = log ? createWriteStream(log, { flags: 'a' }) : undefined;
    const child = spawn(command, argv, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out ?? process.stdout, { end: false });
    child.stderr.pipe(out ?? process.stderr, { end: false });
    child.once('error', reject);
    // 'close', not 'exit': the output has been copied by then.
    child.once('close', (code) => {
      out?.end();
      resolve(code ?? 1);
    });
  });
}

async function must(what: string, status: Promise<number>): Promise<void> {
  const code = await status;
  if (code !== 0) throw new Error(`${what} exited ${code}`);
}

/** Polls `/health/ready` until 200; fails when the server exits first or after `timeoutMs`. */
async function waitReady(baseUrl: string, exited: () => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited()) throw new Error('the service exited before it was ready');
    const status = await fetch(`${baseUrl}/health/ready`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms (last ${status})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The parts of API responses the request checks look at. */
interface Body {
  articles?: unknown[];
  articlesCount?: number;
  tags?: unknown[];
  errors?: unknown;
  user?: { token?: string; username?: string };
}

/** Without k6: a handful of requests that prove the production build serves the API. */
async function checkRequests(baseUrl: string): Promise<number> {
  const api = `${baseUrl}/api`;
  const json = { 'Content-Type': 'application/json' };
  let failures = 0;
  const check = async (
    label: string,
    request: Promise<Response>,
    ok: (r: Response, body: Body | undefined) => boolean,
  ) => {
    const res = await request;
    const body = (await res.json().catch(() => undefined)) as Body | undefined;
    const passed = ok(res, body);
    if (!passed) failures++;
    say(`${passed ? '✓' : '✘'} ${label}: ${res.status}${passed ? '' : ` ${JSON.stringify(body)}`}`);
    return body;
  };
  await check('GET /health/ready', fetch(`${baseUrl}/health/ready`), (r) => r.status === 200);
  await check(
    'GET /api/articles?limit=5 (seeded)',
    fetch(`${api}/articles?limit=5`),
    (r, b) => r.status === 200 && b?.articles?.length === 5 && (b.articlesCount ?? 0) > 5,
  );
  await check(
    'GET /api/tags',
    fetch(`${api}/tags`),
    (r, b) => r.status === 200 && (b?.tags?.length ?? 0) > 0,
  );
  await check(
    'GET /api/articles?limit=0 (bad input)',
    fetch(`${api}/articles?limit=0`),
    (r, b) => r.status === 422 && typeof b?.errors === 'object',
  );
  const login = await check(
    'POST /api/users/login (demo user)',
    fetch(`${api}/users/login`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ user: { email: DEMO_USER.email, password: DEMO_USER.password } }),
    }),
    (r, b) => r.status === 200 && typeof b?.user?.token === 'string',
  );
  await check(
    'GET /api/user (token)',
    fetch(`${api}/user`, { headers: { Authorization: `Token ${login?.user?.token}` } }),
    (r, b) => r.status === 200 && b?.user?.username === DEMO_USER.username,
  );
  return failures === 0 ? 0 : 1;
}

async function deleteKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let deleted = 0;
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 })) {
      if ((keys as string[]).length > 0) deleted += await redis.unlink(...(keys as string[]));
    }
    return deleted;
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<number> {
  mkdirSync(reportDir, { recursive: true });
  const id = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const dbUrl = new URL(
    process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  );
  dbUrl.pathname = `/plinth_smoke_${id}`;
  const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const serverLog = path.join(reportDir, 'service.log');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    APP_ENV: 'ci-smoke',
    DATABASE_URL: dbUrl.toString(),
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: `plinth-smoke-${id}:`,
    JWT_SECRET: randomBytes(32).toString('hex'),
    HOST: '127.0.0.1',
    PORT: String(port),
    // Not the default 9464: another run on this machine may hold it.
    METRICS_PORT: '0',
    PUBLIC_URL: baseUrl,
    // Plain HTTP on loopback: a Secure cookie would never come back to k6.
    SESSION_COOKIE_SECURE: 'false',
    // Limits stay on (production code path) but fit a few virtual users from one address that
    // register and log in during setup(); the per-IP default (20,000/min) already fits.
    RATE_LIMIT_AUTH_PER_MINUTE: '600',
  };

  if (!args['skip-build']) await must('npm run build', run('npm', ['run', 'build'], env));
  say(
    `database ${dbUrl.pathname.slice(1)}, Redis prefix ${env.REDIS_KEY_PREFIX}, logs in ${reportDir}`,
  );
  await ensureDatabase(env.DATABASE_URL!);
  let server: ReturnType<typeof spawn> | undefined;
  let status = 1;
  try {
    const node = process.execPath;
    await must('migrate', run(node, ['dist/service/src/db/migrate.js'], env, serverLog));
    await must('seed', run(node, ['dist/service/src/db/seed.js'], env, serverLog));

    const log = createWriteStream(serverLog, { flags: 'a' });
    server = spawn(node, ['dist/service/src/server.js'], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.pipe(log);
    server.stderr!.pipe(log);
    const started = server;
    await waitReady(baseUrl, () => started.exitCode !== null || started.signalCode !== null);
    say(`production build ready on ${baseUrl}`);

    const k6 = findExecutable('k6');
    if (k6) {
      let script = args['k6-script'];
      if (!script) {
        await must('npm run loadtest:build', run('npm', ['run', 'loadtest:build'], env));
        script = bundlePath(args.scenario);
      }
      say(`k6 (${k6}): ${script} with PROFILE=smoke against ${baseUrl}`);
      status = await runK6({ k6, script, baseUrl, profile: 'smoke', reportDir });
      say(`k6 exited ${status}`);
    } else {
      say(
        'k6 is not on PATH: SKIPPED the k6 step (GitHub CI installs k6); checking requests instead',
      );
      status = await checkRequests(baseUrl);
    }
  } finally {
    if (server) {
      const running = server.exitCode === null && server.signalCode === null;
      const exited = running
        ? new Promise<number | null>((resolve) => server!.once('exit', resolve))
        : Promise.resolve(server.exitCode);
      if (running) server.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) {
        say(
          `the service ${running ? 'exited' : 'died with'} ${code}${running ? ' on SIGTERM' : ''} (see ${serverLog})`,
        );
        if (status === 0) status = 1;
      }
    }
    await dropDatabase(env.DATABASE_URL!);
    const keys = await deleteKeys(redisUrl, env.REDIS_KEY_PREFIX!);
    say(`stopped the service, dropped ${dbUrl.pathname.slice(1)}, deleted ${keys} Redis key(s)`);
  }
  return status;
}

main().then(
  (status) => {
    say(status === 0 ? 'passed' : `FAILED (exit ${status})`);
    process.exit(status);
  },
  (error: Error) => {
    console.error(`ci:smoke: ${error.message}`);
    process.exit(1);
  },
);
