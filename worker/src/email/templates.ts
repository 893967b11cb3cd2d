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
