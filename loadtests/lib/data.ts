/**
 * Test data: users, articles and comments that look like what people write, within the API's
 * limits (title ≤ 255, description ≤ 1000, tags ≤ 20 of ≤ 64 characters, usernames without
 * `/ \ ? # %`). Pure: randomness comes in as a function so tests can fix it.
 */

export type Random = () => number;

/** Tags every run draws from, so tag lists and tag filters have something to find. */
export const TAG_POOL = [
  'postgres',
  'redis',
  'koa',
  'typescript',
  'performance',
  'scaling',
  'caching',
  'observability',
  'aws',
  'k6',
] as const;

const TOPICS = [
  'read replicas',
  'connection pools',
  'cache invalidation',
  'graceful shutdown',
  'rate limiting',
  'background jobs',
  'query plans',
  'autoscaling',
  'load balancers',
  'feature flags',
];
const VERBS = ['Tuning', 'Measuring', 'Scaling', 'Debugging', 'Rethinking', 'Shipping'];
const CONTEXTS = ['in production', 'on a budget', 'under load', 'at 3 a.m.', 'without downtime'];
const SENTENCES = [
  'We started by measuring what the service actually did under a realistic mix of traffic.',
  'The first bottleneck was not where the dashboards pointed.',
  'Every change was tried against the same load profile so the numbers stayed comparable.',
  'Latency at the 99th percentile told a different story than the average.',
  'Rolling the change out one task at a time kept the error budget intact.',
  'The fix was small once the cause was clear; finding the cause took most of the week.',
  'A second run a day later confirmed that the improvement held.',
  'Nothing here needs exotic tooling: a load generator, a profiler and patience.',
];
const COMMENTS = [
  'Great write-up, thanks for sharing the numbers.',
  'Did you try this with more replicas?',
  'We hit the same problem last quarter; this would have saved us days.',
  'How did the p99 look before the change?',
  'Bookmarked for our next incident review.',
  'Clear and to the point. More posts like this, please.',
];

function pick<T>(items: readonly T[], random: Random): T {
  return items[Math.floor(random() * items.length)]!;
}

/** A short id for one run, so its users and articles are easy to find (and never collide). */
export function runId(random: Random = Math.random, now: number = Date.now()): string {
  return `${now.toString(36)}${Math.floor(random() * 36 ** 4)
    .toString(36)
    .padStart(4, '0')}`;
}

export interface Credentials {
  username: string;
  email: string;
  password: string;
}

/** The `index`-th user of a run. `secret` is the run's password (kept out of logs and results). */
export function userCredentials(run: string, index: number, secret: string): Credentials {
  const username = `lt-${run}-${index}`;
  return { username, email: `${username}@loadtest.example.com`, password: secret };
}

/** A password for the run's users: 24 characters of [a-z0-9]. */
export function runPassword(random: Random = Math.random): string {
  let out = '';
  while (out.length < 24) out += Math.floor(random() * 36).toString(36);
  return out;
}

export interface NewArticle {
  title: string;
  description: string;
  body: string;
  tagList: string[];
}

/** An article with a title unique enough to keep slugs short (`tag` is added to its tags). */
export function newArticle(random: Random = Math.random, tag?: string): NewArticle {
  const topic = pick(TOPICS, random);
  const suffix = Math.floor(random() * 36 ** 5).toString(36);
  const tags = new Set<string>();
  const tagCount = 1 + Math.floor(random() * 3);
  while (tags.size < tagCount) tags.add(pick(TAG_POOL, random));
  if (tag) tags.add(tag);
  return {
    title: `${pick(VERBS, random)} ${topic} ${pick(CONTEXTS, random)} ${suffix}`,
    description: `What we learned about ${topic}.`,
    body: markdownBody(topic, random),
    tagList: [...tags],
  };
}

/** A partial update as an editor would send it: new description, new body or both. */
export function articleEdit(random: Random = Math.random): Partial<NewArticle> {
  const r = random();
  const description = `Updated: ${pick(SENTENCES, random).toLowerCase()}`.slice(0, 1000);
  if (r < 1 / 3) return { description };
  const body = markdownBody(pick(TOPICS, random), random);
  return r < 2 / 3 ? { body } : { description, body };
}

export function commentBody(random: Random = Math.random): string {
  return pick(COMMENTS, random);
}

function markdownBody(topic: string, random: Random): string {
  const paragraph = () =>
    Array.from({ length: 2 + Math.floor(random() * 3) }, () => pick(SENTENCES, random)).join(' ');
  return [
    `## Why ${topic}`,
    paragraph(),
    '## What we changed',
    paragraph(),
    `- measured first\n- changed one thing\n- measured again`,
    '```sql\nselect count(*) from articles;\n```',
    paragraph(),
  ].join('\n\n');
}
