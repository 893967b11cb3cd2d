import type { EntityManager } from '@mikro-orm/postgresql';
import {
  PURGE_AUDIT_LOG,
  PURGE_OUTBOX,
  RECOMPUTE_TRENDING_TAGS,
} from '../../../service/src/jobs/contracts.js';
import type { Job } from '../../../service/src/jobs/queue.js';
import { parsePayload } from '../errors.js';
import type { ProcessorDeps } from './types.js';

/** Rows deleted per statement, so a large purge never holds long locks or a huge transaction. */
const PURGE_BATCH = 5_000;

/** Each purge: one batch of rows older than `days` (params: days, batch size). */
const PURGES = {
  outbox: `delete from outbox where id in (
     select id from outbox where sent_at < now() - make_interval(days => ?) limit ?)`,
  deliveries: `delete from email_deliveries where message_id in (
     select message_id from email_deliveries
     where sent_at < now() - make_interval(days => ?) limit ?)`,
  auditLog: `delete from audit_log where id in (
     select id from audit_log where created_at < now() - make_interval(days => ?) limit ?)`,
} as const;

/** Runs a purge batch after batch until a batch deletes fewer rows than it could. */
async function purgeInBatches(em: EntityManager, purge: keyof typeof PURGES, days: number) {
  let total = 0;
  for (;;) {
    const result = await em.execute<{ affectedRows: number }>(
      PURGES[purge],
      [days, PURGE_BATCH],
      'run',
    );
    total += result.affectedRows;
    if (result.affectedRows < PURGE_BATCH) return total;
  }
}

/**
 * Deletes outbox rows sent more than `days` ago, and email delivery records as old (no job
 * that could still run refers to them: failed jobs are kept a week at most). Unsent rows are
 * never purged, whatever their age. Idempotent.
 */
export async function purgeOutbox(em: EntityManager, days: number) {
  const outbox = await purgeInBatches(em, 'outbox', days);
  const deliveries = await purgeInBatches(em, 'deliveries', days);
  return { outbox, deliveries };
}

/** Deletes audit-log entries older than `days`. Idempotent. */
export async function purgeAuditLog(em: EntityManager, days: number) {
  const deleted = await purgeInBatches(em, 'auditLog', days);
  return { deleted };
}

/**
 * Sets every tag's trending score: published articles of the last `days` days carrying the tag,
 * plus their favorites. Only changed rows are written. Idempotent (a pure function of the data).
 */
export async function recomputeTrendingTags(em: EntityManager, days: number) {
  const result = await em.execute<{ affectedRows: number }>(
    `with scores as (
       select t.id, coalesce(s.score, 0)::int as score
       from tags t
       left join (
         select at.tag_id, count(*) + coalesce(sum(a.favorites_count), 0) as score
         from article_tags at
         join articles a on a.id = at.article_id
         where a.status = 'published' and a.created_at > now() - make_interval(days => ?)
         group by at.tag_id
       ) s on s.tag_id = t.id
     )
     update tags set trending_score = scores.score
     from scores
     where tags.id = scores.id and tags.trending_score <> scores.score`,
    [days],
    'run',
  );
  return { updated: result.affectedRows };
}

export function purgeOutboxProcessor(deps: ProcessorDeps) {
  return async (job: Job) => {
    parsePayload(job, PURGE_OUTBOX);
    const result = await purgeOutbox(deps.orm.em.fork(), deps.config.OUTBOX_RETENTION_DAYS);
    deps.logger.info({ jobId: job.id, ...result }, 'purged sent outbox rows');
    return result;
  };
}

export function purgeAuditLogProcessor(deps: ProcessorDeps) {
  return async (job: Job) => {
    parsePayload(job, PURGE_AUDIT_LOG);
    const result = await purgeAuditLog(deps.orm.em.fork(), deps.config.AUDIT_LOG_RETENTION_DAYS);
    deps.logger.info({ jobId: job.id, ...result }, 'purged old audit-log entries');
    return result;
  };
}

export function recomputeTrendingTagsProcessor(deps: ProcessorDeps) {
  return async (job: Job) => {
    parsePayload(job, RECOMPUTE_TRENDING_TAGS);
    const result = await recomputeTrendingTags(
      deps.orm.em.fork(),
      deps.config.TRENDING_WINDOW_DAYS,
    );
    deps.logger.info({ jobId: job.id, ...result }, 'recomputed trending tags');
    return result;
  };
}
