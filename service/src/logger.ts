import { AsyncLocalStorage } from 'node:async_hooks';
import { trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Paths pino removes from every log line. Bodies are never logged; these catch credentials that
 * reach a log through headers, errors or objects passed by mistake.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'password',
  'passwordHash',
  'token',
  '*.password',
  '*.passwordHash',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.secret',
  'user.password',
  'user.token',
  // Credentials under other names, and personal data (issue 17): e-mail addresses and mail
  // recipients appear in no line; a user is named by id.
  'cookie',
  '*.cookie',
  'authorization',
  '*.authorization',
  'csrfToken',
  '*.csrfToken',
  '*.newPassword',
  '*.clientSecret',
  'email',
  '*.email',
  'to',
  '*.to',
  'recipient',
  '*.recipient',
];

/** Fields stamped on every line logged inside withLogContext (a job's request id, its id). */
const logContext = new AsyncLocalStorage<Record<string, unknown>>();

/**
 * Runs `work` with `fields` on every log line it writes, through any logger: how a job's lines
 * carry the id of the request that caused it without threading a child logger everywhere.
 */
export function withLogContext<T>(fields: Record<string, unknown>, work: () => T): T {
  return logContext.run({ ...logContext.getStore(), ...fields }, work);
}

/**
 * Per-line fields: the active span's `trace_id` and `span_id` (so a line leads to its trace,
 * and a trace to its lines), then the log context. Always a new object: pino merges the line's own
 * fields into what the mixin returns, which must never be the stored context itself (a line's
 * fields would then stay on every later line of the job).
 */
function lineContext(): Record<string, unknown> {
  const fields = logContext.getStore();
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return { ...fields };
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId, ...fields };
}

export function createLogger(
  options: { level: string; name?: string },
  destination?: DestinationStream,
): Logger {
  return pino(
    {
      level: options.level,
      name: options.name ?? 'plinth',
      redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
      mixin: lineContext,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

const SENSITIVE_QUERY =
  /^(token|access_token|id_token|refresh_token|code|state|password|session|api_key|apikey)$/i;

/** A URL safe to log: sensitive query values (OAuth codes, tokens, e-mail addresses) replaced. */
export function safeUrl(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const [key, value] of [...params]) {
    // E-mail addresses in a query (admin user search) are personal data.
    if (SENSITIVE_QUERY.test(key) || value.includes('@')) params.set(key, '[Redacted]');
  }
  return `${url.slice(0, q)}?${params.toString()}`;
}
