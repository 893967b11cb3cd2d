/**
 * `npm run stack:local [-- --apis N --port P --api-port P --no-seed]`: brings up the local
 * topology (scripts/stack/local-stack.ts) from the production build in `.local/stack/` and leaves
 * it running; `npm run stack:local:down` stops what it started. See docs/operations.md.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../../service/test/support/paths.js';
import { LocalStack, readState, StackError, stopRecorded } from './local-stack.js';

export const STACK_DIR = path.join(REPO_ROOT, '.local/stack');

const say = (line: string) => console.log(`stack: ${line}`);

async function up(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      apis: { type: 'string', default: '2' },
      port: { type: 'string', default: '0' },
      'api-port': { type: 'string', default: '0' },
      'no-seed': { type: 'boolean', default: false },
      'no-worker': { type: 'boolean', default: false },
    },
  });
  const apis = Number(values.apis);
  if (!Number.isInteger(apis) || apis < 1 || apis > 16) throw new Error('--apis must be 1..16');
  const started = Date.now();
  const stack = await LocalStack.start({
    dir: STACK_DIR,
    apis,
    port: Number(values.port),
    apiPort: Number(values['api-port']),
    seed: !values['no-seed'],
    worker: !values['no-worker'],
    detached: true,
    progress: say,
  });
  await stack.orm.close(true);
  const { state } = stack;
  say(`up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`
  API (through HAProxy)  ${state.url}        e.g. ${state.url}/api/articles
  HAProxy runtime API    ${state.haproxy.socket}   (echo "show stat" | socat - ${state.haproxy.socket})
${state.apis.map((a) => `  ${a.name.padEnd(22)} http://127.0.0.1:${a.port}  pid ${a.pid}  log ${a.log}`).join('\n')}
${state.worker ? `  worker                 pid ${state.worker.pid}  log ${state.worker.log}\n` : ''}  DATABASE_URL           ${state.env.DATABASE_URL}
  DATABASE_REPLICA_URLS  ${state.env.DATABASE_REPLICA_URLS ?? '(none)'}
  REDIS_URL              ${state.env.REDIS_URL}
  demo login             demo@plinth.dev (see service/src/db/seed-data.ts)
  state                  ${path.join(state.dir, 'state.json')}

  k6:     BASE_URL=${state.url} npm run loadtest -- smoke
  drills: npm run drill:stack      stop: npm run stack:local:down
`);
}

async function down() {
  const state = await readState(STACK_DIR);
  if (!state) {
    say(`nothing recorded in ${STACK_DIR}; nothing to stop`);
    return;
  }
  await stopRecorded(state, say);
  say('stopped');
}

const [command, ...rest] = process.argv.slice(2);
try {
  if (command === 'up') await up(rest);
  else if (command === 'down') await down();
  else throw new Error('usage: cli.ts up|down');
} catch (err) {
  console.error(`stack: ${err instanceof StackError ? 'failed: ' : ''}${(err as Error).message}`);
  process.exitCode = 1;
}
