/**
 * Hostile inputs for the security suite (security/suite.test.ts): injection payloads, XSS vectors, and the
 * checks that decide whether a response leaked internals or a rendered body is still dangerous.
 */

export interface StringPayload {
  name: string;
  value: string;
  /** Put into a URL as written instead of percent-encoded (malformed escapes). */
  raw?: boolean;
  /** A time-based SQL injection probe: the response must not be slow. */
  sleeps?: boolean;
}

export const STRING_PAYLOADS: StringPayload[] = [
  { name: 'sql tautology', value: "' OR '1'='1" },
  { name: 'sql tautology (comment)', value: "admin' --" },
  { name: 'sql stacked drop', value: "'; DROP TABLE users; --" },
  { name: 'sql union', value: "' UNION SELECT email, password_hash FROM users --" },
  { name: 'sql stacked sleep', value: '1; select pg_sleep(5)', sleeps: true },
  { name: 'sql quoted sleep', value: "'; select pg_sleep(5); --", sleeps: true },
  { name: 'sql concat sleep', value: "' || pg_sleep(5) || '", sleeps: true },
  { name: 'escaped nul text', value: '\\x00' },
  { name: 'nul byte', value: 'a\u0000b' },
  { name: 'nul byte in url', value: 'https://example.com/a\u0000b' },
  { name: 'unicode', value: 'ünïcødé 🦄 \u202e‮ ﷽ 𝕏' },
  { name: 'lone surrogate', value: 'x\ud800y' },
  { name: 'path traversal', value: '../../etc/passwd' },
  { name: 'encoded path traversal', value: '..%2f..%2fetc%2fpasswd' },
  { name: 'crlf header injection (encoded)', value: '%0d%0aSet-Cookie:injected=1' },
  { name: 'crlf header injection', value: 'x\r\nSet-Cookie: injected=1' },
  { name: 'malformed percent escape', value: '%E0%A4%A', raw: true },
  { name: 'lone percent', value: '%', raw: true },
  { name: 'like wildcard %', value: '%' },
  { name: 'like wildcard _', value: '_' },
  { name: 'like escape', value: '\\%\\_\\' },
  { name: 'very long', value: 'A'.repeat(10_000) },
  { name: 'json-looking string', value: '{"$ne": null}' },
  { name: 'template/prototype', value: '${7*7}{{7*7}}__proto__' },
];

/** Values of the wrong JSON type where the schema expects a string (NoSQL-style operators). */
export const OBJECT_PAYLOADS: { name: string; value: unknown }[] = [
  { name: 'operator $ne', value: { $ne: null } },
  { name: 'operator $gt', value: { $gt: '' } },
  { name: 'array', value: ["' OR '1'='1", 'x'] },
  { name: 'prototype pollution', value: JSON.parse('{"__proto__": {"role": "admin"}}') },
  { name: 'number', value: 1e308 },
];

/** Signs that an error response leaked internals: stack frames, SQL errors, paths, driver names. */
export const LEAK_PATTERNS: RegExp[] = [
  /\bat [\w.<>$]+ \(/, // stack frame "at fn (file:line:col)"
  /\n\s+at /,
  /syntax error/i,
  /relation "/i,
  /invalid (?:byte sequence|input syntax)/i,
  /unterminated quoted/i,
  /\bSQLSTATE\b|pg_catalog|postgres|DriverException|QueryFailed|MikroORM|knex/i,
  /\b(?:Type|Reference|Syntax|Range|URI)Error\b/,
  /node_modules|\/work\/|\/root\/|\/home\/|file:\/\//,
  /\.(?:[cm]?[jt]s):\d+/,
  /root:x:0:0/,
];

/** Markdown/HTML bodies that try to get script, event handlers or dangerous URLs into bodyHtml. */
export const XSS_VECTORS: { name: string; body: string }[] = [
  { name: 'script tag', body: '<script>alert(1)</script>' },
  { name: 'script src mixed case', body: '<SCRIPT SRC=//evil.example/x.js></SCRIPT>' },
  { name: 'img onerror', body: '<img src=x onerror=alert(1)>' },
  { name: 'img onerror mixed case quoted', body: '<img src="x" oNeRrOr="alert(1)">' },
  { name: 'img backtick onerror', body: '<img src="x` `<script>alert(1)</script>"` `>' },
  { name: 'svg onload', body: '<svg onload=alert(1)>' },
  { name: 'svg script', body: '<svg><script>alert(1)</script></svg>' },
  { name: 'details ontoggle', body: '<details open ontoggle=alert(1)>x</details>' },
  {
    name: 'safe href with onclick',
    body: '<a href="https://example.com" onclick="alert(1)">ok</a>',
  },
  { name: 'markdown javascript link', body: '[click](javascript:alert(1))' },
  { name: 'markdown mixed-case scheme', body: '[click](JaVaScRiPt:alert(1))' },
  { name: 'markdown vbscript link', body: '[click](vbscript:msgbox(1))' },
  {
    name: 'markdown data link',
    body: '[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  },
  { name: 'markdown image javascript', body: '![i](javascript:alert(1))' },
  {
    name: 'markdown image data svg',
    body: '![i](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)',
  },
  { name: 'markdown angle-bracket link', body: '[a](<javascript:alert(1)>)' },
  { name: 'markdown entity scheme', body: '[a](&#106;avascript:alert(1))' },
  { name: 'markdown reference link', body: '[x][1]\n\n[1]: javascript:alert(1)' },
  { name: 'markdown autolink', body: '<javascript:alert(1)>' },
  { name: 'html javascript href', body: '<a href="javascript:alert(1)">x</a>' },
  { name: 'html leading-space scheme', body: '<a href=" javascript:alert(1)">x</a>' },
  { name: 'html entity scheme', body: '<a href="&#106;avascript:alert(1)">x</a>' },
  { name: 'html tab inside scheme', body: '<a href="jav&#x09;ascript:alert(1)">x</a>' },
  { name: 'html newline inside scheme', body: '<a href="jav&#10;ascript:alert(1)">x</a>' },
  {
    name: 'html hex entities and &colon;',
    body: '<a href="&#x6A;&#x61;&#x76;&#x61;script&colon;alert(1)">x</a>',
  },
  {
    name: 'html entities without semicolons',
    body: '<a href="&#106&#97&#118&#97&#115&#99&#114&#105&#112&#116&#58alert(1)">x</a>',
  },
  { name: 'html vbscript href', body: '<a href="VBScript:msgbox(1)">x</a>' },
  { name: 'html data href', body: '<a href="data:text/html,<script>alert(1)</script>">x</a>' },
  { name: 'img javascript src', body: "<IMG SRC=JaVaScRiPt:alert('XSS')>" },
  { name: 'iframe', body: '<iframe src="https://evil.example"></iframe>' },
  { name: 'iframe srcdoc', body: '<iframe srcdoc="<script>alert(1)</script>"></iframe>' },
  { name: 'object', body: '<object data="javascript:alert(1)"></object>' },
  { name: 'embed', body: '<embed src="javascript:alert(1)">' },
  { name: 'style attribute', body: '<p style="background:url(javascript:alert(1))">x</p>' },
  { name: 'style tag', body: '<style>body{background:url(javascript:alert(1))}</style>' },
  {
    name: 'math mutation',
    body: '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>',
  },
  {
    name: 'noscript mutation',
    body: '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
  },
  {
    name: 'form with formaction',
    body: '<form action="javascript:alert(1)"><button formaction="javascript:alert(1)">x</button><input onfocus=alert(1) autofocus></form>',
  },
  { name: 'meta refresh', body: '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">' },
  { name: 'base href', body: '<base href="javascript:alert(1)//">' },
  { name: 'link stylesheet', body: '<link rel="stylesheet" href="https://evil.example/x.css">' },
  { name: 'code fence class break-out', body: '```js" onmouseover="alert(1)\nx\n```' },
];

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  colon: ':',
  tab: '\t',
  newline: '\n',
  nbsp: '\u00a0',
};

/** Decodes numeric (with or without `;`) and the common named character references. */
export function decodeEntities(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);?/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);?/g, (_, dec: string) => String.fromCodePoint(Number(dec)))
    .replace(/&([a-z]+);/gi, (whole, name: string) => NAMED_ENTITIES[name.toLowerCase()] ?? whole);
}

const FORBIDDEN_TAGS =
  /<\s*\/?\s*(?:script|iframe|object|embed|form|meta|style|base|link|svg|math)\b/i;
const TAG = /<[a-z][^>]*>/gi;
const ATTRIBUTE = /([^\s"'<>/=]+)\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+)/g;
// eslint-disable-next-line no-control-regex -- browsers ignore these inside a URL scheme
const IGNORED_IN_SCHEME = /[\u0000-\u0020\u007f-\u00a0]/g;

/**
 * Why rendered HTML is still dangerous, or an empty list when it is inert: forbidden tags, event
 * handler or style attributes, or a javascript:/vbscript:/data: URL in any attribute (compared
 * case-insensitively after entity decoding and dropping the characters browsers ignore).
 */
export function dangersIn(html: string): string[] {
  const found: string[] = [];
  const tag = FORBIDDEN_TAGS.exec(html);
  if (tag) found.push(`tag ${tag[0]}`);
  for (const [markup] of html.matchAll(TAG)) {
    for (const [, name, quoted] of markup.matchAll(ATTRIBUTE)) {
      const attr = name!.toLowerCase();
      const value = decodeEntities(quoted!.replace(/^["']|["']$/g, ''));
      if (/^on/.test(attr)) found.push(`handler ${attr} in ${markup}`);
      if (attr === 'style' || attr === 'srcdoc' || attr === 'formaction') {
        found.push(`attribute ${attr} in ${markup}`);
      }
      const scheme = value.replace(IGNORED_IN_SCHEME, '');
      if (/^(?:javascript|vbscript|data):/i.test(scheme)) found.push(`url ${value} in ${markup}`);
    }
  }
  return found;
}
