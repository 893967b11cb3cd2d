import { describe, expect, it } from '@jest/globals';
import { counter, createMetrics, histogram } from '../../src/metrics.js';

describe('metrics registry', () => {
  it('when two parts ask for the same series, then both count into one', async () => {
    const registry = createMetrics();
    counter(registry, 'plinth_test_total', 'test', ['result']).inc({ result: 'hit' });
    counter(registry, 'plinth_test_total', 'test', ['result']).inc({ result: 'hit' });
    const text = await registry.metrics();
    expect(text).toContain('plinth_test_total{result="hit"} 2');
  });

  it('keeps registries apart, so two app instances in one process do not share counts', async () => {
    const a = createMetrics();
    const b = createMetrics();
    histogram(a, 'plinth_test_seconds', 'test').observe(0.1);
    expect(await a.metrics()).toContain('plinth_test_seconds_count 1');
    expect(await b.metrics()).not.toContain('plinth_test_seconds');
  });
});
