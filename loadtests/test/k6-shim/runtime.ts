/**
 * TEST-ONLY: runs a built k6 bundle (loadtests/dist/*.js) under Node with a minimal stand-in for
 * the part of the k6 API our scripts use, so `npm test` can drive the real journeys against a
 * real API without a k6 binary (none installs here). It is a verification tool for our scripts,
 * not a load generator and not a substitute for k6:
 *
 * - each scenario's `exec` function runs a fixed number of iterations, one after another, with
 *   `__VU` = 1..n; executors, rates, durations and abortOnFail are not simulated. With
 *   `shortcut`, the scenarios are replaced by one that runs `default`, as k6's `--iterations`,
 *   `--vus` and `--duration` flags do;
 * - `k6`: check, group, sleep, fail; `k6/http`: request/get/post/put/patch/del, expectedStatuses,
 *   responses with status, body, headers, json(), timings.duration, error;
 *   `k6/metrics`: Counter, Rate, Trend, Gauge (created in the init context only, as in k6);
 * - like k6 it refuses thresholds on unknown metrics, malformed threshold expressions, an
 *   aggregation the metric type lacks, and a scenario whose `exec` is not exported; it evaluates
 *   thresholds over all samples and hands `handleSummary` k6's summary object (metrics with
 *   values and threshold results, root_group with checks, state, setup_data);
 * - any other module, or an API outside that list, throws.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createSyncFn } from 'synckit';
import type { WireRequest, WireResponse } from './http-worker.ts';

type Tags = Record<string, string>;
export type MetricType = 'counter' | 'gauge' | 'rate' | 'trend';
export interface MetricDef {
  type: MetricType;
  contains: 'default' | 'time';
}
interface Sample {
  metric: string;
  value: number;
  tags: Tags;
}
interface CheckNode {
  name: string;
  path: string;
  id: string;
  passes: number;
  fails: number;
}
interface GroupNode {
  name: string;
  path: string;
  id: string;
  groups: GroupNode[];
  checks: CheckNode[];
}

/** Aggregations k6 accepts in a threshold expression, per metric type. */
const AGGREGATIONS: Record<MetricType, RegExp> = {
  counter: /^(count|rate)$/,
  gauge: /^value$/,
  rate: /^rate$/,
  trend: /^(avg|min|max|med|p\(\d+(\.\d+)?\))$/,
};
const EXPRESSION =
  /^\s*([a-z]+(?:\(\d+(?:\.\d+)?\))?)\s*(<=|>=|<|>|===|==|!=)\s*(-?\d+(?:\.\d+)?)\s*$/;

/** The k6 built-in metrics the scripts and the shim use. */
export const BUILTIN: Record<string, MetricDef> = {
  http_reqs: { type: 'counter', contains: 'default' },
  http_req_duration: { type: 'trend', contains: 'time' },
  http_req_failed: { type: 'rate', contains: 'default' },
  checks: { type: 'rate', contains: 'default' },
  iterations: { type: 'counter', contains: 'default' },
  iteration_duration: { type: 'trend', contains: 'time' },
  group_duration: { type: 'trend', contains: 'time' },
  dropped_iterations: { type: 'counter', contains: 'default' },
};

export interface ShimResult {
  /** What handleSummary returned (path or `stdout` → content); the runner writes it. */
  outputs: Record<string, string>;
  /** Iterations that threw, as `scenario: message`. */
  errors: string[];
  /** Thresholds that failed, as `metric: expression`. */
  crossed: string[];
}

export function runBundle(
  file: string,
  env: Tags,
  iterations: number,
  shortcut = false,
): ShimResult {
  const started = Date.now();
  const defs = new Map<string, MetricDef>(Object.entries(BUILTIN));
  const samples: Sample[] = [];
  const root: GroupNode = { name: '', path: '', id: '', groups: [], checks: [] };
  let groupStack: GroupNode[] = [root];
  let baseTags: Tags = {};
  let initContext = true;

  const send = createSyncFn<(req: WireRequest) => Promise<WireResponse>>(
    fileURLToPath(new URL('./http-worker.ts', import.meta.url)),
    { tsRunner: 'tsx' },
  );
  const add = (metric: string, value: number, tags: Tags = {}) =>
    samples.push({ metric, value, tags: { ...baseTags, ...tags } });
  const currentGroup = () => groupStack[groupStack.length - 1]!;

  // ---- k6 -------------------------------------------------------------------------------
  const k6 = {
    check(value: unknown, sets: Record<string, (v: unknown) => unknown>, tags: Tags = {}) {
      let all = true;
      for (const [name, fn] of Object.entries(sets)) {
        const ok = Boolean(fn(value));
        const group = currentGroup();
        let node = group.checks.find((c) => c.name === name);
        if (!node) {
          node = { name, path: `${group.path}::${name}`, id: name, passes: 0, fails: 0 };
          group.checks.push(node);
        }
        if (ok) node.passes += 1;
        else node.fails += 1;
        add('checks', ok ? 1 : 0, { ...tags, check: name });
        all &&= ok;
      }
      return all;
    },
    group<T>(name: string, fn: () => T): T {
      const parent = currentGroup();
      let node = parent.groups.find((g) => g.name === name);
      if (!node) {
        node = { name, path: `${parent.path}::${name}`, id: name, groups: [], checks: [] };
        parent.groups.push(node);
      }
      const saved = baseTags;
      groupStack = [...groupStack, node];
      baseTags = { ...baseTags, group: node.path };
      const t0 = performance.now();
      try {
        return fn();
      } finally {
        baseTags = saved;
        groupStack = groupStack.slice(0, -1);
        add('group_duration', performance.now() - t0, { group: node.path });
      }
    },
    sleep(seconds: number) {
      if (seconds > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, seconds * 1000);
    },
    fail(message?: string): never {
      throw new Error(message);
    },
  };

  // ---- k6/http ----------------------------------------------------------------------------
  const EXPECTED = Symbol('expectedStatuses');
  interface Params {
    headers?: Tags;
    tags?: Tags;
    timeout?: string | number;
    responseCallback?: { [EXPECTED]: number[] };
  }
  const request = (method: string, url: string, body?: unknown, params: Params = {}) => {
    if (initContext) throw new Error('k6: HTTP requests are not allowed in the init context');
    if (body != null && typeof body !== 'string') {
      throw new Error('shim: only string bodies are supported (the scripts send JSON text)');
    }
    for (const key of Object.keys(params)) {
      if (!['headers', 'tags', 'timeout', 'responseCallback'].includes(key)) {
        throw new Error(`shim: request param "${key}" is not supported`);
      }
    }
    const res = send({
      method,
      url,
      body: (body as string | null | undefined) ?? null,
      headers: params.headers ?? {},
      timeoutMs: 60_000,
    });
    const expected = params.responseCallback
      ? params.responseCallback[EXPECTED].includes(res.status)
      : res.status >= 200 && res.status < 400;
    const tags: Tags = {
      method,
      url,
      name: url,
      status: String(res.status),
      expected_response: String(expected),
      ...params.tags,
    };
    add('http_reqs', 1, tags);
    add('http_req_duration', res.durationMs, tags);
    add('http_req_failed', expected ? 0 : 1, tags);
    return {
      status: res.status,
      body: res.body,
      headers: res.headers,
      url,
      error: res.error,
      error_code: res.error ? 1000 : 0,
      timings: { duration: res.durationMs },
      request: { method, url, body, headers: params.headers ?? {} },
      json(selector?: string) {
        if (selector !== undefined) throw new Error('shim: json(selector) is not supported');
        return JSON.parse(res.body);
      },
    };
  };
  const http = {
    request,
    get: (url: string, params?: Params) => request('GET', url, null, params),
    post: (url: string, body?: unknown, params?: Params) => request('POST', url, body, params),
    put: (url: string, body?: unknown, params?: Params) => request('PUT', url, body, params),
    patch: (url: string, body?: unknown, params?: Params) => request('PATCH', url, body, params),
    del: (url: string, body?: unknown, params?: Params) => request('DELETE', url, body, params),
    expectedStatuses: (...statuses: unknown[]) => {
      if (!statuses.every((s) => Number.isInteger(s))) {
        throw new Error('shim: expectedStatuses takes status numbers only');
      }
      return { [EXPECTED]: statuses as number[] };
    },
  };

  // ---- k6/metrics -------------------------------------------------------------------------
  const metricClass = (type: MetricType) =>
    class {
      constructor(
        readonly name: string,
        isTime = false,
      ) {
        if (!initContext) throw new Error(`k6: metric ${name} must be created in the init context`);
        if (defs.has(name)) throw new Error(`k6: metric ${name} is already defined`);
        defs.set(name, { type, contains: isTime ? 'time' : 'default' });
      }
      add(value: number | boolean, tags: Tags = {}) {
        add(this.name, Number(value), tags);
      }
    };
  const metrics = {
    Counter: metricClass('counter'),
    Gauge: metricClass('gauge'),
    Rate: metricClass('rate'),
    Trend: metricClass('trend'),
  };

  const modules: Record<string, unknown> = {
    k6,
    'k6/http': { ...http, default: http },
    'k6/metrics': metrics,
  };
  const requireShim = (name: string) => {
    const mod = modules[name];
    if (!mod)
      throw new Error(
        `shim: module "${name}" is not provided (bundles may import k6 modules only)`,
      );
    return mod;
  };

  // ---- the run ----------------------------------------------------------------------------
  const g = globalThis as Record<string, unknown>;
  g.__ENV = env;
  g.__VU = 0;
  g.__ITER = 0;
  const module = { exports: {} as Record<string, unknown> };
  new Function('require', 'module', 'exports', readFileSync(file, 'utf8'))(
    requireShim,
    module,
    module.exports,
  );
  initContext = false;
  const exp = module.exports;
  const options = (exp.options ?? {}) as {
    scenarios?: Record<string, { exec?: string; tags?: Tags }>;
    thresholds?: Record<
      string,
      (string | { threshold: string; abortOnFail?: boolean; delayAbortEval?: string })[]
    >;
    summaryTrendStats?: string[];
  };
  const fn = (name: string) => {
    const value = exp[name];
    return typeof value === 'function' ? (value as (data?: unknown) => unknown) : undefined;
  };

  const thresholds = parseThresholds(options.thresholds ?? {}, defs);
  const scenarios = Object.entries(
    shortcut || !options.scenarios
      ? { default: {} as { exec?: string; tags?: Tags } }
      : options.scenarios,
  );
  for (const [name, scenario] of scenarios) {
    if (!fn(scenario.exec ?? 'default')) {
      throw new Error(
        `k6: scenario ${name} executes "${scenario.exec ?? 'default'}", which is not an exported function`,
      );
    }
  }

  const errors: string[] = [];
  const setup = fn('setup');
  groupStack = [root];
  let setupData: unknown;
  if (setup) {
    baseTags = { group: '::setup' };
    setupData = JSON.parse(JSON.stringify(setup() ?? null));
  }
  for (const [name, scenario] of scenarios) {
    const exec = fn(scenario.exec ?? 'default')!;
    for (let i = 0; i < iterations; i += 1) {
      g.__VU = i + 1;
      g.__ITER = i;
      baseTags = { scenario: name, group: '', ...scenario.tags };
      const t0 = performance.now();
      try {
        exec(JSON.parse(JSON.stringify(setupData ?? null)));
        add('iterations', 1);
        add('iteration_duration', performance.now() - t0);
      } catch (err) {
        errors.push(`${name}: ${(err as Error).stack ?? String(err)}`);
      }
    }
  }
  baseTags = {};
  fn('teardown')?.(setupData);

  const durationS = (Date.now() - started) / 1000;
  const trendStats = options.summaryTrendStats ?? ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)'];
  const summaryMetrics: Record<string, unknown> = {};
  const crossed: string[] = [];
  const values = (name: string, filter: Tags) => {
    const def = defs.get(name)!;
    const v = samples
      .filter(
        (s) => s.metric === name && Object.entries(filter).every(([k, val]) => s.tags[k] === val),
      )
      .map((s) => s.value);
    return aggregate(def.type, v, durationS, trendStats);
  };
  for (const [name, def] of defs) {
    if (samples.some((s) => s.metric === name)) {
      summaryMetrics[name] = { type: def.type, contains: def.contains, values: values(name, {}) };
    }
  }
  for (const t of thresholds) {
    const v = values(t.metric, t.filter);
    const results: Record<string, { ok: boolean }> = {};
    for (const expr of t.expressions) {
      const ok = compare(v[expr.aggregation] ?? 0, expr.operator, expr.value);
      results[expr.source] = { ok };
      if (!ok) crossed.push(`${t.key}: ${expr.source}`);
    }
    const def = defs.get(t.metric)!;
    summaryMetrics[t.key] = {
      type: def.type,
      contains: def.contains,
      values: v,
      thresholds: results,
    };
  }

  const summary = {
    root_group: root,
    options: { summaryTrendStats: trendStats, summaryTimeUnit: '', noColor: true },
    state: { isStdOutTTY: false, isStdErrTTY: false, testRunDurationMs: durationS * 1000 },
    metrics: summaryMetrics,
    setup_data: setupData,
  };
  const handleSummary = fn('handleSummary');
  const outputs = (handleSummary?.(summary) ?? {}) as Record<string, string>;
  return { outputs, errors, crossed: crossed.sort() };
}

interface ParsedThreshold {
  key: string;
  metric: string;
  filter: Tags;
  expressions: { source: string; aggregation: string; operator: string; value: number }[];
}

/** Thresholds as k6 reads them; throws where k6 would refuse to start. */
export function parseThresholds(
  thresholds: Record<
    string,
    (string | { threshold: string; abortOnFail?: boolean; delayAbortEval?: string })[]
  >,
  defs: Map<string, MetricDef>,
): ParsedThreshold[] {
  return Object.entries(thresholds).map(([key, list]) => {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:\{(.+)\})?$/.exec(key);
    if (!match) throw new Error(`k6: invalid threshold metric "${key}"`);
    const metric = match[1]!;
    const def = defs.get(metric);
    if (!def)
      throw new Error(`k6: invalid threshold defined on ${key}: no metric name "${metric}" found`);
    const filter: Tags = {};
    for (const pair of match[2]?.split(',') ?? []) {
      const [k, ...v] = pair.split(':');
      if (!k?.trim() || v.length === 0) throw new Error(`k6: invalid tag filter in "${key}"`);
      filter[k.trim()] = v.join(':').trim();
    }
    const expressions = list.map((item) => {
      const source = typeof item === 'string' ? item : item.threshold;
      if (typeof item === 'object') {
        const unknown = Object.keys(item).filter(
          (k) => !['threshold', 'abortOnFail', 'delayAbortEval'].includes(k),
        );
        if (unknown.length > 0)
          throw new Error(`k6: unknown threshold option ${unknown.join(', ')} on ${key}`);
        if (
          item.delayAbortEval !== undefined &&
          !/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(item.delayAbortEval)
        ) {
          throw new Error(`k6: invalid delayAbortEval "${item.delayAbortEval}" on ${key}`);
        }
      }
      const parsed = EXPRESSION.exec(source);
      if (!parsed) throw new Error(`k6: invalid threshold expression "${source}" on ${key}`);
      if (!AGGREGATIONS[def.type].test(parsed[1]!)) {
        throw new Error(
          `k6: aggregation "${parsed[1]}" is not valid for the ${def.type} metric ${metric}`,
        );
      }
      return { source, aggregation: parsed[1]!, operator: parsed[2]!, value: Number(parsed[3]) };
    });
    return { key, metric, filter, expressions };
  });
}

function aggregate(type: MetricType, v: number[], durationS: number, trendStats: string[]) {
  const sum = v.reduce((a, b) => a + b, 0);
  switch (type) {
    case 'counter':
      return { count: sum, rate: durationS > 0 ? sum / durationS : 0 };
    case 'gauge':
      return {
        value: v.at(-1) ?? 0,
        min: Math.min(...v, Infinity),
        max: Math.max(...v, -Infinity),
      };
    case 'rate': {
      const passes = v.filter((x) => x !== 0).length;
      return { rate: v.length ? passes / v.length : 0, passes, fails: v.length - passes };
    }
    case 'trend': {
      const sorted = [...v].sort((a, b) => a - b);
      const percentile = (p: number) => {
        if (sorted.length === 0) return 0;
        const i = (p / 100) * (sorted.length - 1);
        const lo = Math.floor(i);
        return sorted[lo]! + (sorted[Math.ceil(i)]! - sorted[lo]!) * (i - lo);
      };
      const all: Record<string, number> = {
        avg: v.length ? sum / v.length : 0,
        min: sorted[0] ?? 0,
        med: percentile(50),
        max: sorted.at(-1) ?? 0,
        count: v.length,
      };
      const out: Record<string, number> = {};
      for (const stat of trendStats) {
        const p = /^p\((\d+(?:\.\d+)?)\)$/.exec(stat);
        out[stat] = p ? percentile(Number(p[1])) : all[stat]!;
      }
      return out;
    }
  }
}

function compare(actual: number, operator: string, expected: number): boolean {
  switch (operator) {
    case '<':
      return actual < expected;
    case '<=':
      return actual <= expected;
    case '>':
      return actual > expected;
    case '>=':
      return actual >= expected;
    case '!=':
      return actual !== expected;
    default:
      return actual === expected;
  }
}
