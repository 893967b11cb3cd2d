import type { EntityManager } from '@mikro-orm/postgresql';
import { PRUNE_UNUSED_TAGS } from '../../../service/src/jobs/contracts.js';
import type { Job } from '../../../service/src/jobs/queue.js';
import { parsePayload } from '../errors.js';
import type { ProcessorDeps } from './types.js';

/**
 * Deletes tags that no article uses. Idempotent: a second run finds nothing to delete.
 * `skip locked` leaves alone a tag that a concurrent article write is linking right now (its
 * foreign-key check holds a lock on the tag row), instead of cascading that new link away.
 */
export async function pruneUnusedTags(em: EntityManager): Promise<number> {
  const result = await em.execute<{ affectedRows: number }>(
    `delete from tags where id in (
       select t.id from tags t
       where not exists (select 1 from article_tags at where at.tag_id = t.id)
       for update of t skip locked)`,
    [],
    'run',
  );
  return result.affectedRows;
}

/** The Bull processor: validates the (empty) payload, prunes with a job-scoped EntityManager. */
export function pruneUnusedTagsProcessor(deps: ProcessorDeps) {
  return async (job: Job): Promise<{ deleted: number }> => {
    parsePayload(job, PRUNE_UNUSED_TAGS);
    const deleted = await pruneUnusedTags(deps.orm.em.fork());
    deps.logger.info({ jobId: job.id, deleted }, `pruned ${deleted} unused tag(s)`);
    return { deleted };
  };
}
