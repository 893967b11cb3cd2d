/** Email templates: each renders a subject, a plain-text part and an HTML part. */

export interface Rendered {
  subject: string;
  text: string;
  html: string;
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** User-supplied text inside HTML. */
function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** A subject line: one line, bounded (user text must not inject headers or run on). */
function subjectLine(value: string): string {
  const line = value.replace(/[\r\n\t]+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 117)}…` : line;
}

function layout(title: string, paragraphs: string[]): string {
  return [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>`,
    '<body style="font-family: sans-serif; line-height: 1.5">',
    ...paragraphs.map((p) => `<p>${p}</p>`),
    '<p style="color: #888">— Plinth</p>',
    '</body></html>',
  ].join('\n');
}

export function welcomeEmail(input: { username: string }): Rendered {
  const subject = 'Welcome to Plinth';
  return {
    subject,
    text: [
      `Hi ${input.username},`,
      '',
      'Welcome to Plinth. Your account is ready: write your first article, follow authors you like and join the conversation in the comments.',
      '',
      '— Plinth',
    ].join('\n'),
    html: layout(subject, [
      `Hi ${escapeHtml(input.username)},`,
      'Welcome to Plinth. Your account is ready: write your first article, follow authors you like and join the conversation in the comments.',
    ]),
  };
}

export function commentEmail(input: {
  authorName: string;
  commenterName: string;
  articleTitle: string;
  commentBody: string;
}): Rendered {
  const excerpt =
    input.commentBody.length > 500 ? `${input.commentBody.slice(0, 497)}…` : input.commentBody;
  const subject = subjectLine(`New comment on "${input.articleTitle}"`);
  return {
    subject,
    text: [
      `Hi ${input.authorName},`,
      '',
      `${input.commenterName} commented on your article "${input.articleTitle}":`,
      '',
      ...excerpt.split('\n').map((line) => `> ${line}`),
      '',
      '— Plinth',
    ].join('\n'),
    html: layout(subject, [
      `Hi ${escapeHtml(input.authorName)},`,
      `${escapeHtml(input.commenterName)} commented on your article “${escapeHtml(input.articleTitle)}”:`,
      `<blockquote>${escapeHtml(excerpt).replace(/\n/g, '<br>')}</blockquote>`,
    ]),
  };
}

/** One line of a digest: an article someone the reader follows published. */
export interface DigestItem {
  title: string;
  authorName: string;
  /** Where the article can be read. */
  url: string;
}

/** The daily digest of unread notifications: the newest `items`, out of `total` unread. */
export function digestEmail(input: {
  username: string;
  total: number;
  items: DigestItem[];
}): Rendered {
  const subject = subjectLine(
    input.total === 1
      ? '1 new article from people you follow'
      : `${input.total} new articles from people you follow`,
  );
  const more = input.total - input.items.length;
  const tail = more > 0 ? [`…and ${more} more.`] : [];
  return {
    subject,
    text: [
      `Hi ${input.username},`,
      '',
      'Since your last digest, people you follow published:',
      '',
      ...input.items.map((i) => `- "${i.title}" by ${i.authorName}: ${i.url}`),
      ...tail,
      '',
      'You get this digest because you turned it on in your notification settings.',
      '',
      '— Plinth',
    ].join('\n'),
    html: layout(subject, [
      `Hi ${escapeHtml(input.username)},`,
      'Since your last digest, people you follow published:',
      `<ul>${input.items
        .map(
          (i) =>
            `<li><a href="${escapeHtml(i.url)}">${escapeHtml(i.title)}</a> by ${escapeHtml(i.authorName)}</li>`,
        )
        .join('')}</ul>${tail.map(escapeHtml).join('')}`,
      'You get this digest because you turned it on in your notification settings.',
    ]),
  };
}
