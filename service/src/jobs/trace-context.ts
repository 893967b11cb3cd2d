import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { JobMeta } from './contracts.js';

/**
 * The active trace context as job meta headers (W3C `traceparent`, and `tracestate` when set),
 * so the job that a request causes continues the request's trace. Empty when no trace is active
 * (tracing off, or outside any request): the job then starts a trace of its own, if any.
 */
export function traceMeta(): JobMeta {
  const carrier: JobMeta = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** What the consumer span says about the job (OpenTelemetry messaging conventions). */
export interface JobSpanInfo {
  queue: string;
  name: string;
  id: string | number;
  attempt: number;
}

/**
 * Runs `work` inside a CONSUMER span `<queue> process <job>` whose parent is the trace context
 * in `meta` (the request that enqueued the job): the job's database and Redis spans then belong
 * to the request's trace. Without tracing this is a plain call.
 */
export function withJobSpan<T>(
  meta: JobMeta,
  job: JobSpanInfo,
  work: () => Promise<T>,
): Promise<T> {
  const parent = propagation.extract(ROOT_CONTEXT, meta);
  const tracer = trace.getTracer('plinth-jobs');
  return tracer.startActiveSpan(
    `${job.queue} process ${job.name}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'bull',
        'messaging.operation.type': 'process',
        'messaging.destination.name': job.queue,
        'messaging.message.id': String(job.id),
        'plinth.job.name': job.name,
        'plinth.job.attempt': job.attempt,
      },
    },
    parent,
    async (span) => {
      try {
        return await work();
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}
