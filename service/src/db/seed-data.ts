/**
 * The demo data set as plain values: who exists, who wrote, tagged, followed, favorited and
 * commented on what, and when. Pure and deterministic (a seeded faker), so `seed.ts` only writes
 * it and tests can compare two plans.
 */
import { base, en, Faker } from '@faker-js/faker';
import { baseSlug } from '../modules/articles/slugs.js';

/** The documented demo login (README); every seeded user shares the password. */
export const DEMO_USER = {
  email: 'demo@plinth.dev',
  username: 'demo',
  password: 'plinth-demo-password',
} as const;

export interface SeedPlanOptions {
  /** Users to create, the demo user included. @default 50 */
  users?: number;
  /** Articles to create. @default 500 */
  articles?: number;
  /** Comments to create. @default 5000 */
  comments?: number;
  /** Faker seed; the same seed gives the same data. @default 20261125 */
  randomSeed?: number;
  /** The end of the time range; data spreads over the `historyDays` before it. @default now */
  now?: Date;
  /** How far back created_at values reach. @default 365 */
  historyDays?: number;
}

export interface PlannedUser {
  email: string;
  username: string;
  bio: string;
  image: string;
  createdAt: Date;
}

export interface PlannedArticle {
  slug: string;
  title: string;
  description: string;
  body: string;
  /** Index into `users`. */
  author: number;
  /** Indexes into `tags`, 1–4 distinct. */
  tags: number[];
  /** Exactly the number of `favorites` entries for this article. */
  favoritesCount: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface SeedPlan {
  users: PlannedUser[];
  tags: string[];
  articles: PlannedArticle[];
  /** Indexes into `users`. */
  follows: { follower: number; followee: number; createdAt: Date }[];
  /** Indexes into `users` and `articles`. */
  favorites: { user: number; article: number; createdAt: Date }[];
  /** Indexes into `articles` and `users`. */
  comments: { article: number; author: number; body: string; createdAt: Date }[];
}

/** 30 tags with a popularity order (earlier = used more), so "popular tags" is meaningful. */
export const SEED_TAGS = [
  'typescript',
  'nodejs',
  'postgresql',
  'redis',
  'aws',
  'architecture',
  'testing',
  'devops',
  'security',
  'performance',
  'koa',
  'graphql',
  'docker',
  'kubernetes',
  'observability',
  'career',
  'javascript',
  'databases',
  'api-design',
  'caching',
  'cdk',
  'terraform',
  'serverless',
  'frontend',
  'react',
  'rust',
  'go',
  'open-source',
  'productivity',
  'tutorial',
];

const DAY_MS = 24 * 60 * 60 * 1000;

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Picks `count` distinct indexes of `weights`, each with probability proportional to its weight. */
function weightedDistinct(f: Faker, weights: number[], count: number): number[] {
  const items = weights.map((weight, value) => ({ weight, value }));
  const picked = new Set<number>();
  while (picked.size < Math.min(count, weights.length)) {
    picked.add(f.helpers.weightedArrayElement(items));
  }
  return [...picked];
}

function between(f: Faker, from: Date, to: Date): Date {
  return from.getTime() >= to.getTime() ? new Date(to) : f.date.between({ from, to });
}

function paragraph(f: Faker): string {
  return Array.from({ length: f.number.int({ min: 3, max: 6 }) }, () =>
    f.helpers.weightedArrayElement([
      { weight: 12, value: () => f.hacker.phrase() },
      { weight: 2, value: () => `${capitalize(f.company.buzzPhrase())} is where teams struggle.` },
      { weight: 1, value: () => `We measured a ${f.number.int({ min: 2, max: 40 })}x difference.` },
      { weight: 1, value: () => f.lorem.sentence() },
    ])(),
  ).join(' ');
}

function codeBlock(f: Faker): string {
  const noun = f.hacker.noun().replace(/\W+/g, '');
  const fn = `${f.hacker.verb().replace(/\W+/g, '')}${capitalize(noun)}`;
  return [
    '```ts',
    `export async function ${fn}(${noun}: ${capitalize(noun)}): Promise<void> {`,
    `  const result = await client.${f.hacker.verb().replace(/\W+/g, '')}(${noun}.id);`,
    `  if (!result.ok) throw new Error('could not ${f.hacker.verb()} the ${noun}');`,
    '}',
    '```',
  ].join('\n');
}

/** A realistic Markdown body: headings, paragraphs, a list, sometimes code, a quote and a link. */
function markdownBody(f: Faker, tags: string[]): string {
  const parts = [paragraph(f)];
  const sections = f.number.int({ min: 2, max: 4 });
  for (let s = 0; s < sections; s++) {
    parts.push(`## ${capitalize(f.company.buzzPhrase())}`, paragraph(f));
    const extra = f.number.int({ min: 0, max: 3 });
    if (extra === 0) {
      parts.push(
        Array.from(
          { length: f.number.int({ min: 3, max: 5 }) },
          () =>
            `- ${capitalize(f.hacker.ingverb())} the ${f.hacker.adjective()} ${f.hacker.noun()}`,
        ).join('\n'),
      );
    } else if (extra === 1) {
      parts.push(codeBlock(f));
    } else if (extra === 2) {
      parts.push(`> ${f.company.catchPhrase()}.`);
    }
  }
  parts.push(
    `Further reading: [${f.company.catchPhrase()}](https://example.com/${tags[0]}/${f.string.alphanumeric({ length: 6, casing: 'lower' })}).`,
  );
  return parts.join('\n\n');
}

function articleTitle(f: Faker, tag: string): string {
  return f.helpers.arrayElement([
    () => `How we ${f.hacker.verb()} the ${f.hacker.adjective()} ${f.hacker.noun()}`,
    () => `Why your ${f.hacker.noun()} needs ${tag}`,
    () => `${capitalize(f.hacker.ingverb())} ${f.hacker.noun()}s with ${tag}`,
    () => `${capitalize(f.company.catchPhrase())}`,
    () => `Lessons from ${f.number.int({ min: 2, max: 10 })} years of ${tag}`,
  ])();
}

function comment(f: Faker): string {
  return f.helpers.arrayElement([
    () => `Great write-up! ${f.hacker.phrase()}`,
    () => `Have you tried ${f.hacker.ingverb()} the ${f.hacker.noun()} instead?`,
    () => f.lorem.sentences({ min: 1, max: 3 }),
    () =>
      `We hit the same problem with our ${f.hacker.adjective()} ${f.hacker.noun()}. ${f.hacker.phrase()}`,
    () => 'Thanks, this saved me a day.',
  ])();
}

function usernames(f: Faker, count: number): string[] {
  const taken = new Set<string>([DEMO_USER.username]);
  const names: string[] = [DEMO_USER.username];
  while (names.length < count) {
    const firstName = f.person.firstName();
    const lastName = f.person.lastName();
    const name = f.internet
      .username({ firstName, lastName })
      .replace(/[^A-Za-z0-9._-]/g, '')
      .slice(0, 40);
    if (name && !taken.has(name.toLowerCase())) {
      taken.add(name.toLowerCase());
      names.push(name);
    }
  }
  return names;
}

/** Builds the whole demo data set in memory. Same options (and seed) → same plan. */
export function buildSeedPlan(options: SeedPlanOptions = {}): SeedPlan {
  const userCount = Math.max(2, options.users ?? 50);
  const articleCount = options.articles ?? 500;
  const commentCount = options.comments ?? 5000;
  const now = options.now ?? new Date();
  const start = new Date(now.getTime() - (options.historyDays ?? 365) * DAY_MS);
  const f = new Faker({ locale: [en, base] });
  f.seed(options.randomSeed ?? 20261125);

  // Users join over the first eleven months; the demo user is the first member.
  const joinedBy = new Date(now.getTime() - 30 * DAY_MS);
  const users: PlannedUser[] = usernames(f, userCount).map((username, i) => ({
    username,
    email:
      i === 0
        ? DEMO_USER.email
        : `${username.toLowerCase().replace(/[^a-z0-9.]/g, '')}@example.com`,
    bio: i === 0 ? 'The demo account. Log in and look around.' : f.person.bio(),
    image: i === 0 || f.number.int({ min: 0, max: 4 }) === 0 ? '' : f.image.avatar(),
    createdAt: i === 0 ? start : between(f, start, joinedBy),
  }));
  // Collisions after lower-casing and stripping would violate users_email_unique.
  const emails = new Set<string>();
  for (const [i, user] of users.entries()) {
    if (emails.has(user.email)) user.email = user.email.replace('@', `.${i}@`);
    emails.add(user.email);
  }

  const tags = [...SEED_TAGS];
  const tagWeights = tags.map((_, i) => 1 / (i + 1) ** 0.8);
  // Some people write a lot, most a little.
  const authorWeights = users.map(() => f.number.float({ min: 0.2, max: 3 }));

  const slugs = new Set<string>();
  const articles: PlannedArticle[] = Array.from({ length: articleCount }, () => {
    const author = f.helpers.weightedArrayElement(
      authorWeights.map((weight, value) => ({ weight, value })),
    );
    const articleTags = weightedDistinct(f, tagWeights, f.number.int({ min: 1, max: 4 }));
    const title = articleTitle(f, tags[articleTags[0]!]!);
    // Like the app: the title's slug, with a random-looking suffix when it is taken.
    let slug = baseSlug(title);
    while (slugs.has(slug)) {
      slug = `${baseSlug(title)}-${f.string.alphanumeric({ length: 8, casing: 'lower' })}`;
    }
    slugs.add(slug);
    const createdAt = between(f, users[author]!.createdAt, now);
    const edited = f.number.int({ min: 0, max: 4 }) === 0;
    return {
      slug,
      title,
      description: f.hacker.phrase(),
      body: markdownBody(
        f,
        articleTags.map((t) => tags[t]!),
      ),
      author,
      tags: articleTags,
      favoritesCount: 0,
      createdAt,
      updatedAt: edited ? between(f, createdAt, now) : createdAt,
    };
  });

  const follows: SeedPlan['follows'] = [];
  users.forEach((user, follower) => {
    const others = users.map((_, i) => i).filter((i) => i !== follower);
    const count = Math.min(others.length, f.number.int({ min: 5, max: 15 }));
    for (const followee of f.helpers.arrayElements(others, count)) {
      const after = Math.max(user.createdAt.getTime(), users[followee]!.createdAt.getTime());
      follows.push({ follower, followee, createdAt: between(f, new Date(after), now) });
    }
  });

  // A few articles go viral, most get a handful of favorites, some none.
  const popularity = articles.map(() => f.number.float({ min: 0, max: 1 }) ** 3 * 10 + 0.05);
  const favorites: SeedPlan['favorites'] = [];
  users.forEach((_, user) => {
    const count = Math.min(articles.length, f.number.int({ min: 3, max: 40 }));
    for (const article of weightedDistinct(f, popularity, count)) {
      articles[article]!.favoritesCount += 1;
      const after = Math.max(
        articles[article]!.createdAt.getTime(),
        users[user]!.createdAt.getTime(),
      );
      favorites.push({ user, article, createdAt: between(f, new Date(after), now) });
    }
  });

  const commentItems = popularity.map((weight, value) => ({ weight, value }));
  const comments: SeedPlan['comments'] = Array.from({ length: commentCount }, () => {
    const article = f.helpers.weightedArrayElement(commentItems);
    const author = f.number.int({ min: 0, max: users.length - 1 });
    const after = Math.max(
      articles[article]!.createdAt.getTime(),
      users[author]!.createdAt.getTime(),
    );
    return { article, author, body: comment(f), createdAt: between(f, new Date(after), now) };
  });

  return { users, tags, articles, follows, favorites, comments };
}
