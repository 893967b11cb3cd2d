/**
 * `service` entry point (the HTTP API, service/src/api-main.ts). It sets the V8 flags first
 * (v8-heap.ts) and only then imports the process: a static import would have V8 compile the
 * whole module graph before any of it runs, and a flag set after that did not reliably take
 * effect (allocation-site pretenuring off: 2 of 7 windows; set before the graph loads: every one).
 */
import './v8-heap.js';

await import('./api-main.js');
