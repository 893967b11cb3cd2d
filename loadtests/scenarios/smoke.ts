import { check, fail } from 'k6';
import http from 'k6/http';
import type { Options } from 'k6/options';
import { API, BASE_URL } from '../lib/config.ts';

/** A few virtual users reading the public API: proves the target is up and correct. */
export const options: Options = {
  vus: 2,
  duration: '30s',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: ['p(95)<500'],
    checks: ['rate>0.99'],
  },
};

/** Health gate: abort before the load if the target is not ready. */
export function setup(): void {
  const res = http.get(`${BASE_URL}/health/ready`);
  if (res.status !== 200) fail(`target not ready: ${res.status} ${String(res.body)}`);
}

export default function (): void {
  const list = http.get(`${API}/articles?limit=10`, { tags: { name: 'GET /articles' } });
  check(list, {
    'articles 200': (r) => r.status === 200,
    'articles has count': (r) => typeof r.json('articlesCount') === 'number',
  });
  const tags = http.get(`${API}/tags`, { tags: { name: 'GET /tags' } });
  check(tags, { 'tags 200': (r) => r.status === 200 });
}
