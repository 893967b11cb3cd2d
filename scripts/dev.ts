/**
 * `npm run dev`: the API (and the worker, once it exists) on this machine with seeded data,
 * restarted on every source change.
 *
 * Makes PostgreSQL and Redis reachable (scripts/services.sh), fills in development defaults for
 * unset variables, creates and migrates the database, seeds it, then runs `tsx watch` for each
 * process with prefixed output. Ctrl-C (or SIGTERM) stops the children; when any child exits,
 * the rest are stopped and this process exits with the first non-zero code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ensureDatabase } from '../service/src/db/admin.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');

/** Never valid outside a developer's machine: the name says so wherever it shows up. */
const DEV_ONLY_JWT_SECRET = 'dev-only-insecure-jwt-secret-never-use-in-production';

const DEV_DEFAULTS: Record<string, string> = {
  NODE_ENV: 'development',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/plinth_dev',
  REDIS_URL: 'redis://127.0.0.1:6379',
  JWT_SECRET: DEV_ONLY_JWT_SECRET,
};

function say(message: string): void {
  console.log(`[dev] ${message}`);
}

/** Runs a command to completion with inherited output; rejects unless it exits 0. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, env, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} exited with ${signal ?? code}`));
    });
  });
}

/** Copies a child's output to ours, each line prefixed with the process name. */
function pipeWithPrefix(child: ChildProcess, name: string): void {
  const prefix = `[${name}] `;
  for (const [stream, out] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ] as const) {
    if (!stream) continue;
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) =>
      out.write(`${prefix}${line}\n`),
    );
  }
}

async function main(): Promise<void> {
  if (process.env.NODE_ENV === 'production') {
    throw new Error('npm run dev is for development; NODE_ENV=production is set');
  }
  await run('bash', [path.join(root, 'scripts/services.sh'), 'up'], process.env);

  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(DEV_DEFAULTS)) {
    if (!env[key]) {
      env[key] = value;
      say(`${key} not set: using the development default`);
    }
  }

  const databaseUrl = env.DATABASE_URL as string;
  if (await ensureDatabase(databaseUrl)) say(`created database ${new URL(databaseUrl).pathname}`);
  await run(tsx, ['service/src/db/migrate.ts'], env);
  const seed = 'service/src/db/seed.ts';
  if (existsSync(path.join(root, seed))) await run(tsx, [seed], env);
  else say(`${seed} does not exist yet: starting without seed data`);

  // Both on one machine: the API keeps METRICS_PORT (9464), the worker takes the next port.
  const metricsPort = Number(env.METRICS_PORT ?? 9464);
  const processes: [name: string, entry: string, env: NodeJS.ProcessEnv][] = [
    ['api', 'service/src/server.ts', env],
    ['worker', 'worker/src/main.ts', { ...env, METRICS_PORT: String(metricsPort + 1) }],
  ];
  const children: ChildProcess[] = [];
  let stopping = false;
  let exitCode = 0;
  const running = () => children.filter((c) => c.exitCode === null && c.signalCode === null);
  const stopAll = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const child of running()) child.kill(signal);
  };

  for (const [name, entry, processEnv] of processes) {
    if (!existsSync(path.join(root, entry))) {
      say(`${entry} does not exist yet: not starting the ${name}`);
      continue;
    }
    const child = spawn(tsx, ['watch', '--clear-screen=false', entry], {
      cwd: root,
      env: processEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    pipeWithPrefix(child, name);
    child.once('error', (err) => say(`${name} failed to start: ${err.message}`));
    child.once('exit', (code, signal) => {
      say(`${name} exited (${signal ?? code})`);
      // A child that stops on its own takes the others down with it, and its failure is ours.
      if (!stopping && code) exitCode = code;
      stopAll('SIGTERM');
      if (running().length === 0) process.exit(exitCode);
    });
    children.push(child);
  }
  if (children.length === 0) throw new Error('nothing to run');

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      say(`${signal}: stopping`);
      stopAll(signal);
    });
  }
  say(`API on http://127.0.0.1:${env.PORT ?? 3000} (Ctrl-C stops everything)`);
}

main().catch((err: Error) => {
  console.error(`[dev] ${err.message}`);
  process.exit(1);
});
