import type { EntityManager } from '@mikro-orm/postgresql';
import {
  DIGEST_EMAIL,
  NOTIFY_FOLLOWERS,
  NOTIFY_FOLLOWERS_BATCH,
  SCHEDULE_DIGESTS,
  type JobData,
} from '../../../service/src/jobs/contracts.js';
import type { Job } from '../../../service/src/jobs/queue.js';
import { User } from '../../../service/src/modules/users/user.entity.js';
import { digestEmail } from '../email/templates.js';
import { metaOf, parsePayload } from '../errors.js';
import { deliverOnce, type EmailResult } from './email.js';
import type { ProcessorDeps } from './types.js';

/** One fan-out page: followers with `after < follower_id <= upTo` (null: no upper bound). */
export interface FanOutPage {
  after: number;
  upTo: number | null;
}

/** Largest int4: the open end of the last page. */
const INT_MAX = 2_147_483_647;

/**
 * The pages of `authorId`'s followers, `size` at a time, by keyset pagination on the
 * (followee_id, follower_id) index: each step reads at most `size` index entries. The last page
 * is open-ended. No followers: no pages.
 */
export async function planFanOut(
  em: EntityManager,
  authorId: number,
  size: number,
): Promise<FanOutPage[]> {
  const pages: FanOutPage[] = [];
  for (let after = 0; ;) {
    const [step] = await em.execute<{ n: number; last: number | null }[]>(
      `select count(*)::int as n, max(follower_id) as last from (
         select follower_id from follows where followee_id = ? and follower_id > ?
         order by follower_id limit ?) page`,
      [authorId, after, size],
    );
    if (!step || step.n === 0) return pages;
    if (step.n < size) {
      pages.push({ after, upTo: null });
      return pages;
    }
    pages.push({ after, upTo: step.last! });
    after = step.last!;
  }
}

/**
 * Notifies one page of followers of `articleId` in ONE statement. Followers come from the
 * article's author at run time, and a deleted or unpublished article notifies nobody. The unique
 * (article_id, user_id) key makes a rerun insert nothing twice. Returns the rows inserted.
 */
export async function notifyPage(
  em: EntityManager,
  articleId: number,
  page: FanOutPage,
): Promise<number> {
  const result = await em.execute<{ affectedRows: number }>(
    `insert into notifications (user_id, article_id, created_at)
     select f.follower_id, a.id, now()
     from articles a join follows f on f.followee_id = a.author_id
     where a.id = ? and a.status = 'published' and f.follower_id > ? and f.follower_id <= ?
     on conflict (article_id, user_id) do nothing`,
    [articleId, page.after, page.upTo ?? INT_MAX],
    'run',
  );
  return result.affectedRows;
}

/** Plans a fan-out and adds its batch jobs (see NOTIFY_FOLLOWERS). */
export function notifyFollowersProcessor(deps: ProcessorDeps) {
  return async (job: Job) => {
    const { articleId } = parsePayload(job, NOTIFY_FOLLOWERS);
    const em = deps.orm.em.fork();
    const [article] = await em.execute<{ author_id: number; status: string }[]>(
      'select author_id, status from articles where id = ?',
      [articleId],
    );
    if (!article || article.status !== 'published') {
      return { batches: 0, reason: article ? 'not published' : 'article deleted' };
    }
    const pages = await planFanOut(em, article.author_id, deps.config.NOTIFICATION_BATCH_SIZE);
    await deps.probe?.('fan-out:planned', job);
    const meta = metaOf(job);
    // The same page of the same article always gets the same jobId: a rerun of this job adds
    // nothing Bull still holds (and a page it no longer holds inserts nothing new).
    await deps.queue(NOTIFY_FOLLOWERS_BATCH.queue).addBulk(
      pages.map((page) => ({
        name: NOTIFY_FOLLOWERS_BATCH.name,
        data: { payload: { articleId, ...page }, meta } satisfies JobData,
        opts: { jobId: `notify:${articleId}:${page.after}` },
      })),
    );
    return { batches: pages.length };
  };
}

/** One page of a fan-out (see NOTIFY_FOLLOWERS_BATCH); the probe points serve the fault tests. */
export function notifyFollowersBatchProcessor(deps: ProcessorDeps) {
  return async (job: Job) => {
    const { articleId, after, upTo } = parsePayload(job, NOTIFY_FOLLOWERS_BATCH);
    await deps.probe?.('batch:before-insert', job);
    const inserted = await deps.orm.em.fork().transactional(async (em) => {
      const n = await notifyPage(em, articleId, { after, upTo });
      await deps.probe?.('batch:before-commit', job);
      return n;
    });
    await deps.probe?.('batch:after-commit', job);
    return { inserted };
  };
}

/** The UTC day of `at`, `YYYY-MM-DD`. */
export const utcDay = (at: Date) => at.toISOString().slice(0, 10);

/**
 * Writes one DIGEST_EMAIL outbox row for `day` per user who opted in and has unread
 * notifications newer than their last digest, and marks `day` on their settings — one statement,
 * so a rerun the same day finds nobody due. The rows are built in SQL (one per user, however
 * many users); their payload is DIGEST_EMAIL's, which the worker checks again before sending.
 */
export async function scheduleDigests(em: EntityManager, day: string): Promise<number> {
  const result = await em.execute<{ affectedRows: number }>(
    `with due as (
       update notification_settings s set digest_day = ?
       where s.digest and s.digest_day is distinct from ?
         and exists (
           select 1 from notifications n join articles a on a.id = n.article_id
           where n.user_id = s.user_id and n.read_at is null and a.status = 'published'
             and n.created_at > coalesce(s.digested_until, '-infinity'))
       returning s.user_id)
     insert into outbox (queue, name, payload, meta, created_at)
     select ?, ?, jsonb_build_object('userId', user_id, 'day', ?::text), '{}', now() from due`,
    [day, day, DIGEST_EMAIL.queue, DIGEST_EMAIL.name, day],
    'run',
  );
  return result.affectedRows;
}

export function scheduleDigestsProcessor(deps: ProcessorDeps) {
  return async (job: Job) => {
    parsePayload(job, SCHEDULE_DIGESTS);
    const day = utcDay(new Date());
    const scheduled = await scheduleDigests(deps.orm.em.fork(), day);
    deps.logger.info({ jobId: job.id, day, scheduled }, 'scheduled notification digests');
    return { day, scheduled };
  };
}

/** Items listed in a digest; the rest are counted. */
const DIGEST_ITEMS = 20;

interface DigestRow {
  title: string;
  slug: string;
  author: string;
  total: number;
  newest: Date;
}

/** The user's daily digest email (see DIGEST_EMAIL). */
export function digestEmailProcessor(deps: ProcessorDeps) {
  return async (job: Job): Promise<EmailResult> => {
    const { userId, day } = parsePayload(job, DIGEST_EMAIL);
    const em = deps.orm.em.fork();
    const user = await em.findOne(User, { id: userId });
    if (!user) return { sent: false, reason: 'the user no longer exists' };
    const rows = await em.execute<DigestRow[]>(
      `select a.title, a.slug, u.username as author,
              count(*) over ()::int as total, max(n.created_at) over () as newest
       from notification_settings s
       join notifications n on n.user_id = s.user_id and n.read_at is null
         and n.created_at > coalesce(s.digested_until, '-infinity')
       join articles a on a.id = n.article_id and a.status = 'published'
       join users u on u.id = a.author_id
       where s.user_id = ? and s.digest
       order by n.id desc limit ?`,
      [userId, DIGEST_ITEMS],
    );
    const messageId = `<digest-${userId}-${day}@${deps.mailer.domain}>`;
    const first = rows[0];
    if (!first) return { sent: false, messageId, reason: 'digest off or nothing unread' };
    const rendered = digestEmail({
      username: user.username,
      total: first.total,
      items: rows.map((r) => ({
        title: r.title,
        authorName: r.author,
        url: `${deps.config.PUBLIC_URL}/api/articles/${encodeURIComponent(r.slug)}`,
      })),
    });
    const result = await deliverOnce(deps, job, em, DIGEST_EMAIL.name, {
      messageId,
      to: user.email,
      ...rendered,
    });
    // Sent now or before (a rerun): either way these notifications have been in a digest.
    await em.execute(
      `update notification_settings
       set digested_until = greatest(coalesce(digested_until, '-infinity'), ?)
       where user_id = ?`,
      [first.newest, userId],
      'run',
    );
    return result;
  };
}
