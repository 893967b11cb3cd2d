/**
 * A worker process that kills itself with SIGKILL at one named point of a job (`CRASH_AT`): a
 * probe point (email: `before-send`, `after-send`; avatar: `before-store`, `after-store`,
 * `after-update`; notification fan-out: `fan-out:planned`, `batch:before-insert`,
 * `batch:before-commit`, `batch:after-commit`), or `after-complete` (Bull marked a job of
 * `CRASH_QUEUE`, default `email`, completed). `CRASH_SKIP` (default 0) lets that many passes of
 * the point go by first, e.g. to die between two batches. Configured from the environment like
 * the real worker; prints `ready` once it takes jobs.
 */
import { loadConfig } from '../../../service/src/config.js';
import { connectOrm } from '../../../service/src/db/orm.js';
import { EMAIL_QUEUE } from '../../../service/src/jobs/contracts.js';
import { createLogger } from '../../../service/src/logger.js';
import { startWorker } from '../../src/worker.js';

const point = process.env.CRASH_AT;
if (!point) throw new Error('CRASH_AT is required');
let skip = Number(process.env.CRASH_SKIP ?? 0);
const config = loadConfig();
const orm = await connectOrm(config);
const crash = () => {
  if (skip-- > 0) return;
  process.kill(process.pid, 'SIGKILL');
};
const worker = await startWorker(
  { config, orm, logger: createLogger({ level: 'silent' }) },
  { concurrency: 1, probe: (at) => (at === point ? crash() : undefined) },
);
if (point === 'after-complete') {
  worker.queue(process.env.CRASH_QUEUE ?? EMAIL_QUEUE).on('completed', crash);
}
console.log('ready');
