import { AsyncLocalStorage } from 'node:async_hooks';
import { trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Paths pino removes from every log line. Bodies are never logged; these catch credentials that
 * reach a log through headers, errors or objects passed by mistake. The same names one level
 * below any top-level key are NESTED_SECRETS.
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
  'user.password',
  'user.token',
  // Credentials under other names, and personal data (issue 17): e-mail addresses and mail
  // recipients appear in no line; a user is named by id.
  'cookie',
  'authorization',
  'csrfToken',
  'email',
  'to',
  'recipient',
];

/**
 * Keys censored one level below any top-level key (`{ user: { email } }`, `{ err: { token } }`):
 * what pino's `*.<key>` redact paths would do. Not given to pino as such: a path starting with `*`
 * makes pino run every field of every line, and of every child logger's bindings, through
 * @pinojs/redact, which parses each path again per field (measured: a third of all the memory
 * the API allocates per cached read, docs/read-path.md). Done instead by the log formatter, the
 * `err` serializer and `child` below, which copy only what they censor.
 */
export const NESTED_SECRETS = [
  'password',
  'passwordHash',
  'token',
  'accessToken',
  'refreshToken',
  'secret',
  'cookie',
  'authorization',
  'csrfToken',
  'newPassword',
  'clientSecret',
  'email',
  'to',
  'recipient',
] as const;

const CENSOR = '[Redacted]';

/** `value` with its NESTED_SECRETS keys censored: itself if it has none, else a shallow copy. */
function censorKeys(value: object): object {
  let copy: Record<string, unknown> | undefined;
  for (const key of NESTED_SECRETS) {
    if ((value as Record<string, unknown>)[key] !== undefined) {
      copy ??= { ...value };
      copy[key] = CENSOR;
    }
  }
  return copy ?? value;
}

/**
 * `fields` with NESTED_SECRETS censored in each top-level object value: itself if none holds
 * one. `err` is left to its serializer (a copy here would lose an Error's message and stack).
 */
export function censorNested<T extends Record<string, unknown>>(fields: T): T {
  let copy: Record<string, unknown> | undefined;
  for (const key in fields) {
    const value = fields[key];
    if (key === 'err' || value === null || typeof value !== 'object' || Array.isArray(value)) {
      continue;
    }
    const censored = censorKeys(value);
    if (censored !== value) {
      copy ??= { ...fields };
      copy[key] = censored;
    }
  }
  return (copy ?? fields) as T;
}

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
  const logger = pino(
    {
      level: options.level,
      name: options.name ?? 'plinth',
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      serializers: { err: (err: Error) => censorKeys(pino.stdSerializers.err(err)) },
      mixin: lineContext,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: censorNested,
      },
    },
    destination,
  );
  // pino gives a child's bindings to no formatter; every child (and its children, which inherit
  // this) censors them here. Bindings are serialized once per child, not per line.
  const child = logger.child;
  logger.child = function (this: Logger, bindings, childOptions) {
    return child.call(this, censorNested(bindings), childOptions);
  } as Logger['child'];
  return logger;
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
