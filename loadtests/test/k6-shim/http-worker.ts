/**
 * The shim's HTTP client, in a worker thread: k6's `http` calls are synchronous, Node's fetch is
 * not, so the shim blocks on this worker through synckit (SharedArrayBuffer + Atomics.wait).
 */
import { runAsWorker } from 'synckit';

export interface WireRequest {
  method: string;
  url: string;
  body: string | null;
  headers: Record<string, string>;
  timeoutMs: number;
}

export interface WireResponse {
  status: number;
  /** Header names canonicalised as k6 does (`retry-after` → `Retry-After`). */
  headers: Record<string, string>;
  body: string;
  durationMs: number;
  /** Transport error (k6 reports status 0 and an error string); '' when there was a response. */
  error: string;
}

const canonical = (name: string) =>
  name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());

runAsWorker(async (req: WireRequest): Promise<WireResponse> => {
  const started = performance.now();
  try {
    const res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: AbortSignal.timeout(req.timeoutMs),
    });
    const body = await res.text();
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => (headers[canonical(name)] = value));
    return {
      status: res.status,
      headers,
      body,
      durationMs: performance.now() - started,
      error: '',
    };
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    return {
      status: 0,
      headers: {},
      body: '',
      durationMs: performance.now() - started,
      error: String(cause ?? err),
    };
  }
});
