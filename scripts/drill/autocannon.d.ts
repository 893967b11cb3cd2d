// The part of autocannon's programmatic API the drills use (the package ships no types).
declare module 'autocannon' {
  interface RequestBase {
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
  }
  interface Request extends RequestBase {
    method: string;
    /** Called before each send with the request; returns the one to send. */
    setupRequest?: (req: RequestBase) => RequestBase;
  }
  interface Options {
    url: string;
    connections?: number;
    duration?: number;
    amount?: number;
    overallRate?: number;
    timeout?: number;
    requests?: Request[];
  }
  interface Histogram {
    average: number;
    p50: number;
    p99: number;
    max: number;
  }
  interface Result {
    latency: Histogram;
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    statusCodeStats: Record<string, { count: number }>;
  }
  function autocannon(options: Options): Promise<Result>;
  export default autocannon;
}
