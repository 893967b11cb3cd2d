/**
 * OpenTelemetry tracing for the production processes, loaded before the app with
 * `node --import ./dist/service/src/tracing.js <entry>` (package.json start scripts, the image's
 * entrypoint): automatic instrumentation must hook `node:http`, koa, pg and ioredis before the
 * app imports them, and ES modules can only be hooked by a loader registered first.
 *
 * Configured by the standard OTEL_* variables only (docs/observability.md). Off unless an
 * exporter is named: OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (OTLP,
 * `http/protobuf` unless OTEL_EXPORTER_OTLP_PROTOCOL says otherwise) or OTEL_TRACES_EXPORTER
 * (`console` prints spans locally); OTEL_SDK_DISABLED=true turns it off whatever else is set.
 * Off, this module registers nothing, so the app runs exactly as without it.
 * Sampling: OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default parentbased_always_on).
 */
import { register } from 'node:module';
import path from 'node:path';

/** Whether the environment asks for traces to be exported anywhere. */
export function tracingEnabled(env: NodeJS.ProcessEnv): boolean {
  if (/^(true|1)$/i.test(env.OTEL_SDK_DISABLED ?? '')) return false;
  const exporter = (env.OTEL_TRACES_EXPORTER ?? '').trim();
  if (exporter === 'none') return false;
  return Boolean(
    exporter || env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
  );
}

/** `plinth-api` for the API, `plinth-worker` for the worker, else the entry file's name. */
function defaultServiceName(entry: string | undefined): string {
  const file = path.basename(entry ?? 'node', '.js');
  if (file === 'server') return 'plinth-api';
  if (file === 'main' && entry?.includes('worker')) return 'plinth-worker';
  return `plinth-${file}`;
}

/** Paths whose requests are not traced: probes and scrapes, every few seconds, say nothing. */
const UNTRACED = /^\/(health\/(live|ready)|metrics)(\?|$)/;

async function start(): Promise<void> {
  // The loader intercepts only the modules an instrumentation hooks (not every module the app
  // imports): cheaper start-up, and nothing else is wrapped.
  const { createAddHookMessageChannel } = await import('import-in-the-middle');
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  process.env.OTEL_SERVICE_NAME ??= defaultServiceName(process.argv[1]);
  // Metrics are Prometheus on METRICS_PORT and logs are pino on stdout; only traces go out here.
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';

  // Batches of up to 2048 spans (the SDK's default is 512): each export has a cost of its own
  // beyond its spans (request, resource, encoding), and the telemetry bench measured fewer, larger
  // exports as the cheaper; at most 8192 spans wait in memory. OTEL_BSP_* still override these.
  process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE ??= '2048';
  process.env.OTEL_BSP_MAX_QUEUE_SIZE ??= '8192';

  const [{ NodeSDK }, { HttpInstrumentation }, koa, { PgInstrumentation }, ioredis] =
    await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/instrumentation-http'),
      import('@opentelemetry/instrumentation-koa'),
      import('@opentelemetry/instrumentation-pg'),
      import('@opentelemetry/instrumentation-ioredis'),
    ]);
  // Only these four instrumentations are loaded (no auto-instrumentations bundle: no fs, dns or
  // net spans), each as lean as still says where a request's time went (issue 17's overhead).
  const sdk = new NodeSDK({
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED.test(req.url ?? ''),
        // Outgoing calls (AWS APIs, identity providers) inside a request or job only: background
        // calls start no trace of their own.
        requireParentforOutgoingSpans: true,
      }),
      // Router layers only (one span per route handler): a span per middleware would cost more
      // than it tells.
      new koa.KoaInstrumentation({ ignoreLayersType: [koa.KoaLayerType.MIDDLEWARE] }),
      // One span per statement, inside a trace only, without the parameter array (MikroORM writes
      // most values into the statement's text, though: docs/observability.md). No spans for pool
      // checkouts and connects (almost one per statement more; the pool's state is in the
      // db_pool_* metrics).
      new PgInstrumentation({
        requireParentSpan: true,
        enhancedDatabaseReporting: false,
        ignoreConnectSpans: true,
      }),
      // Bull's blocking polls outside any job or request would each start a trace of their own.
      // The command's name only: keys and arguments hold client addresses (rate limits), user
      // names and slugs (cache keys) and cached bodies, and serializing them costs every command.
      new ioredis.IORedisInstrumentation({
        requireParentSpan: true,
        dbStatementSerializer: (command) => command,
      }),
    ],
  });
  sdk.start();
  await waitForAllMessagesAcknowledged();
  // The app's shutdown ends in process.exit, which no exporter can wait for. From the signal on,
  // flush every second: spans of the drain and of the last in-flight work still go out, while
  // the provider keeps accepting spans (shutting it down now would drop them).
  const { trace } = await import('@opentelemetry/api');
  const provider = trace.getTracerProvider() as { getDelegate?: () => unknown };
  const delegate = (provider.getDelegate?.() ?? provider) as { forceFlush?: () => Promise<void> };
  const flushUntilExit = (signal: NodeJS.Signals) => {
    // A signal before the app installed its own handler (start-up) must still end the process.
    if (process.listenerCount(signal) === 0) process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    const flush = () => void delegate.forceFlush?.().catch(() => undefined);
    flush();
    setInterval(flush, 1_000).unref();
  };
  process.once('SIGTERM', flushUntilExit);
  process.once('SIGINT', flushUntilExit);
}

if (tracingEnabled(process.env)) await start();
