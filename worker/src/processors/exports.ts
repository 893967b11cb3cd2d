import type { EntityManager } from '@mikro-orm/postgresql';
import { BUILD_EXPORT, PURGE_EXPORTS } from '../../../service/src/jobs/contracts.js';
import type { Job } from '../../../service/src/jobs/queue.js';
import { objectKey, type ObjectStorage } from '../../../service/src/storage/index.js';
import { FinalJobError, parsePayload } from '../errors.js';
import { buildExportFile } from '../exports/export-file.js';
import { EXPORT_SECTIONS } from '../exports/sections.js';
import type { ProcessorDeps } from './types.js';

export type BuildExportResult =
  { built: true; key: string; sizeBytes: number; rows: number } | { built: false; reason: string };

/** What a user reads when their export failed for good (the cause is in the logs). */
const FAILED_MESSAGE = 'the export could not be built; please request a new one';

/**
 * `build-export`: see the contract (BUILD_EXPORT) for its semantics. Claims the row (queued or
 * running → running, progress 0), builds the file page by page, stores it, marks it done. A row
 * that is done, failed or gone is left alone; the last attempt's failure marks it failed.
 */
export function buildExportProcessor(deps: ProcessorDeps) {
  return async (job: Job): Promise<BuildExportResult> => {
    const { exportId } = parsePayload(job, BUILD_EXPORT);
    const em = deps.orm.em.fork();
    const [claimed] = await em.execute<{ userId: number }[]>(
      `update data_exports set status = 'running', progress = 0
       where id = ? and status in ('queued', 'running') returning user_id as "userId"`,
      [exportId],
    );
    if (!claimed) return { built: false, reason: 'not queued or running (done, failed or purged)' };
    const key = objectKey('exports', claimed.userId, `${exportId}.json.gz`);
    try {
      let reported = 0;
      const file = await buildExportFile({
        em,
        exportId,
        userId: claimed.userId,
        sections: EXPORT_SECTIONS,
        pageSize: deps.config.EXPORT_PAGE_SIZE,
        onPage: async (progress) => {
          if (progress !== reported) {
            reported = progress;
            await em.execute(
              `update data_exports set progress = ? where id = ? and status = 'running'`,
              [progress, exportId],
              'run',
            );
          }
          await deps.probe?.('export-page', job);
        },
      });
      await deps.storage.put(key, file.body, 'application/gzip');
      await deps.probe?.('export-stored', job);
      const done = await em.execute<{ affectedRows: number }>(
        `update data_exports set status = 'done', progress = 100, object_key = ?, size_bytes = ?,
           error = null, finished_at = now(),
           expires_at = now() + make_interval(days => ?)
         where id = ? and status = 'running'`,
        [key, file.body.length, deps.config.EXPORT_RETENTION_DAYS, exportId],
        'run',
      );
      if (done.affectedRows === 0) {
        // The row went while the file was built (the user was deleted): so does the file.
        await deps.storage.delete([key]);
        return { built: false, reason: 'the export was deleted while it was built' };
      }
      deps.logger.info(
        { jobId: job.id, exportId, sizeBytes: file.body.length, rows: file.rows },
        'data export built',
      );
      return { built: true, key, sizeBytes: file.body.length, rows: file.rows };
    } catch (err) {
      const final =
        err instanceof FinalJobError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (final) await markFailed(em, exportId, deps.config.EXPORT_RETENTION_DAYS);
      throw err;
    }
  };
}

async function markFailed(em: EntityManager, exportId: string, retentionDays: number) {
  await em.execute(
    `update data_exports set status = 'failed', error = ?, finished_at = now(),
       expires_at = now() + make_interval(days => ?)
     where id = ? and status in ('queued', 'running')`,
    [FAILED_MESSAGE, retentionDays, exportId],
    'run',
  );
}

/** Rows (and files) deleted per round of the purge. */
const PURGE_BATCH = 500;

/**
 * Deletes exports past `expires_at`: each batch's files, then its rows (a crash in between
 * leaves rows whose files are gone, deleted again next time). Exports queued or running for
 * over a day (their job was lost for good) are failed, so their user may ask again. Idempotent.
 */
export async function purgeExports(
  em: EntityManager,
  storage: ObjectStorage,
  retentionDays: number,
) {
  let deleted = 0;
  for (;;) {
    const rows = await em.execute<{ id: string; objectKey: string | null }[]>(
      `select id, object_key as "objectKey" from data_exports
       where expires_at < now() order by expires_at limit ?`,
      [PURGE_BATCH],
    );
    const keys = rows.flatMap((r) => (r.objectKey ? [r.objectKey] : []));
    if (keys.length > 0) await storage.delete(keys);
    if (rows.length > 0) {
      await em.execute('delete from data_exports where id in (?)', [rows.map((r) => r.id)], 'run');
    }
    deleted += rows.length;
    if (rows.length < PURGE_BATCH) break;
  }
  const stale = await em.execute<{ affectedRows: number }>(
    `update data_exports set status = 'failed', error = ?, finished_at = now(),
       expires_at = now() + make_interval(days => ?)
     where status in ('queued', 'running') and created_at < now() - interval '1 day'`,
    [FAILED_MESSAGE, retentionDays],
    'run',
  );
  return { deleted, failedStale: stale.affectedRows };
}

export function purgeExportsProcessor(deps: ProcessorDeps) {
  return async (job: Job) => {
    parsePayload(job, PURGE_EXPORTS);
    const result = await purgeExports(
      deps.orm.em.fork(),
      deps.storage,
      deps.config.EXPORT_RETENTION_DAYS,
    );
    deps.logger.info({ jobId: job.id, ...result }, 'purged expired data exports');
    return result;
  };
}
