import type { ReadCache } from '../../../service/src/cache.js';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../../../service/src/config.js';
import type { QueueName } from '../../../service/src/jobs/contracts.js';
import type { Job, Queue } from '../../../service/src/jobs/queue.js';
import type { Logger } from '../../../service/src/logger.js';
import type { ObjectStorage } from '../../../service/src/storage/index.js';
import type { Mailer } from '../email/mailer.js';

/**
 * A named point inside a job (`before-send`, `after-send`) where a test may act, e.g. kill the
 * process to prove what the job's delivery semantics promise. Never set in production.
 */
export type Probe = (point: string, job: Job) => void | Promise<void>;

/** What every processor is built from. */
export interface ProcessorDeps {
  config: Config;
  orm: MikroORM;
  logger: Logger;
  mailer: Mailer;
  /** The API's read cache: a job that changes what reads show bumps its generations. */
  cache: ReadCache;
  /** The worker's queue of each name, for jobs that spawn jobs (the notification fan-out). */
  queue: (name: QueueName) => Queue;
  /** User files (avatars, exports): S3 or a local directory, as the API's. */
  storage: ObjectStorage;
  probe?: Probe;
}

export type Processor = (job: Job) => Promise<unknown>;
