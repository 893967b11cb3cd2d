/**
 * V8 settings of the API process, applied on import: server.ts imports this module before it
 * loads the rest of the process.
 *
 * Allocation-site pretenuring off. V8 tenures an allocation site (allocates its objects straight
 * in the old generation) when most of its objects were seen surviving a scavenge. A burst of
 * requests in flight (a capacity run, a stall, a traffic spike) makes the per-request sites look
 * long-lived; once tenured, those old-generation objects keep the young objects they point to
 * alive through every scavenge (their headers, bodies and `ServerResponse`s are promoted too), and
 * the server stays in that state at any later rate: the old generation grew 25–30 MB/s and a
 * mark-compact stalled the loop 35–40 ms every few seconds. Measured with cached tag reads at
 * 5,700/s after such a burst: 4.5 MB promoted per scavenge and p99 44–48 ms with pretenuring,
 * 30 KB and p99 5–7 ms without (docs/read-path.md, "Benchmark").
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-allocation-site-pretenuring');
