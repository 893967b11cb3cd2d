import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One Prometheus registry per process (API or worker), created at start-up and handed to the parts
 * that count things (cache, queues, HTTP); the observability issue exposes it on METRICS_PORT.
 * Labels must stay bounded: route templates and fixed names, never raw URLs, ids or user input.
 */
export type Metrics = Registry;

export function createMetrics(): Metrics {
  return new Registry();
}

/**
 * The metric named `name` in `registry`, created on first use, so several parts (or several app
 * instances in one test process) can ask for the same series without registering it twice.
 */
function once<T>(registry: Metrics, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

export function counter<L extends string>(
  registry: Metrics,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  return once(registry, name, () => new Counter({ name, help, labelNames, registers: [registry] }));
}

export function gauge<L extends string>(
  registry: Metrics,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Gauge<L> {
  return once(registry, name, () => new Gauge({ name, help, labelNames, registers: [registry] }));
}

export function histogram<L extends string>(
  registry: Metrics,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  buckets?: number[],
): Histogram<L> {
  return once(
    registry,
    name,
    () =>
      new Histogram({
        name,
        help,
        labelNames,
        registers: [registry],
        ...(buckets ? { buckets } : {}),
      }),
  );
}
