import type { EntityManager } from '@mikro-orm/postgresql';
import { COMMENT_EMAIL, WELCOME_EMAIL } from '../../../service/src/jobs/contracts.js';
import type { Job } from '../../../service/src/jobs/queue.js';
import { Comment } from '../../../service/src/modules/comments/comment.entity.js';
import { EmailDelivery } from '../../../service/src/modules/email/email-delivery.entity.js';
import { User } from '../../../service/src/modules/users/user.entity.js';
import type { Mail } from '../email/mailer.js';
import { smtpResponseCode } from '../email/mailer.js';
import { commentEmail, welcomeEmail } from '../email/templates.js';
import { failFinally, metaOf, parsePayload } from '../errors.js';
import type { ProcessorDeps } from './types.js';

/** What an email job reports as its result (visible in Bull and the admin API). */
export type EmailResult =
  { sent: true; messageId: string } | { sent: false; messageId?: string; reason: string };

/**
 * Sends `mail` once per Message-ID, as far as SMTP allows: a delivery already recorded is not
 * sent again (a retry or a stalled job's second run); otherwise it is sent, then recorded. A crash
 * between the server's acceptance and the record sends it again with the same Message-ID, so the
 * declared semantics are at-least-once with a stable Message-ID. A 5xx reply is permanent (final
 * failure); anything else (4xx, connection errors) is retried with backoff.
 */
export async function deliverOnce(
  deps: ProcessorDeps,
  job: Job,
  em: EntityManager,
  kind: string,
  mail: Mail,
): Promise<EmailResult> {
  if (await em.count(EmailDelivery, { messageId: mail.messageId })) {
    return { sent: false, messageId: mail.messageId, reason: 'already sent' };
  }
  await deps.probe?.('before-send', job);
  try {
    await deps.mailer.send(mail);
  } catch (err) {
    const code = smtpResponseCode(err);
    const message = `SMTP ${code ?? 'error'}: ${(err as Error).message}`;
    if (code !== undefined && code >= 500) throw failFinally(job, message);
    throw new Error(message);
  }
  if (!deps.mailer.enabled) return { sent: false, messageId: mail.messageId, reason: 'SMTP off' };
  await deps.probe?.('after-send', job);
  await em.execute(
    `insert into email_deliveries (message_id, kind, recipient, sent_at)
     values (?, ?, ?, now()) on conflict (message_id) do nothing`,
    [mail.messageId, kind, mail.to],
    'run',
  );
  deps.logger.info(
    { jobId: job.id, messageId: mail.messageId, requestId: metaOf(job).requestId },
    `${kind} sent`,
  );
  return { sent: true, messageId: mail.messageId };
}

/** Welcome mail to a newly registered user. */
export function welcomeEmailProcessor(deps: ProcessorDeps) {
  return async (job: Job): Promise<EmailResult> => {
    const { userId } = parsePayload(job, WELCOME_EMAIL);
    const em = deps.orm.em.fork();
    const user = await em.findOne(User, { id: userId });
    if (!user) return { sent: false, reason: 'the user no longer exists' };
    const rendered = welcomeEmail({ username: user.username });
    return deliverOnce(deps, job, em, WELCOME_EMAIL.name, {
      messageId: `<welcome-${user.id}@${deps.mailer.domain}>`,
      to: user.email,
      ...rendered,
    });
  };
}

/** "New comment on your article" to the article's author. */
export function commentEmailProcessor(deps: ProcessorDeps) {
  return async (job: Job): Promise<EmailResult> => {
    const { commentId } = parsePayload(job, COMMENT_EMAIL);
    const em = deps.orm.em.fork();
    const comment = await em.findOne(
      Comment,
      { id: commentId },
      { populate: ['author', 'article', 'article.author'] },
    );
    if (!comment) return { sent: false, reason: 'the comment was deleted' };
    const author = comment.article.author;
    if (author.id === comment.author.id) return { sent: false, reason: 'own article' };
    const rendered = commentEmail({
      authorName: author.username,
      commenterName: comment.author.username,
      articleTitle: comment.article.title,
      commentBody: comment.body,
    });
    return deliverOnce(deps, job, em, COMMENT_EMAIL.name, {
      messageId: `<comment-${comment.id}@${deps.mailer.domain}>`,
      to: author.email,
      ...rendered,
    });
  };
}
