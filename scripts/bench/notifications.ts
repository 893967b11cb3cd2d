/**
 * The `notifications` section (also printed by `npm run bench:jobs`), on the production build
 * (scripts/drill/harness.ts: private PostgreSQL and Redis, seeded database, the built API and
 * worker as processes):
 * - fan-out: an author with FOLLOWERS followers (inserted with SQL) publishes through the API; the
 *   time from the publishing request's response to the last notification row committed (polled
 *   every 10 ms), through the outbox, the relay, the plan and the batch jobs;
 * - the list: `GET /api/notifications?limit=20` of a user with LIST_NOTIFICATIONS notifications,
 *   the API process's CPU per request (scripts/bench/reads.ts cpuPerRequest) as a multiple of a
 *   bare Koa JSON endpoint measured in the same run (before and after: the mean), next to the
 *   floor of any signed-in read (`GET /api/notifications/settings`, one tiny statement).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DEMO_USER } from '../../service/src/db/seed-data.js';
import { load, startApp, Stack } from '../drill/harness.js';
import type { BenchSection } from './index.js';
import { startBareKoa } from './measure.js';
import { bareCpuPerRequest, cpuPerRequest, NO_LIMITS } from './reads.js';

/** Followers of the publishing author. */
export const FOLLOWERS = Number(process.env.BENCH_FOLLOWERS ?? 10_000);
/** Notifications of the user whose list is measured. */
const LIST_NOTIFICATIONS = 200;
/** Targets of issue 13. */
const FAN_OUT_TARGET_MS = 5_000;
const LIST_TARGET_RATIO = 8;

export const notificationsSection: BenchSection = {
  name: 'notifications',
  description:
    `Fan-out: an author with ${FOLLOWERS.toLocaleString('en')} followers publishes (POST ` +
    '/api/articles); time from the response to the last notification row (outbox → relay → plan → ' +
    'batch jobs of NOTIFICATION_BATCH_SIZE, default 1,000). List: GET /api/notifications?limit=20 ' +
    `of a user with ${LIST_NOTIFICATIONS} notifications, the API process's CPU per request ` +
    '(utime+stime ÷ 2xx answers) against a bare Koa JSON endpoint. Production build, private stores.',
  async run() {
    const stack = await Stack.start({ env: NO_LIMITS });
    const worker = await startApp('worker', 'dist/worker/src/main.js', stack.env, 'worker ready');
    try {
      const sql = <T>(query: string, params: unknown[] = []) =>
        stack.orm.em.fork().getConnection().execute<T[]>(query, params);
      const [demo] = await sql<{ id: number }>('select id from users where email = ?', [
        DEMO_USER.email,
      ]);
      await sql(
        `insert into users (email, username, password_hash, created_at, updated_at)
         select 'bench-follower-' || i || '@example.com', 'bench-follower-' || i, 'x', now(), now()
         from generate_series(1, ?) as i`,
        [FOLLOWERS],
      );
      await sql(
        `insert into follows (follower_id, followee_id, created_at)
         select id, ?, now() from users where username like 'bench-follower-%'`,
        [demo!.id],
      );
      // Let the worker settle (its start-up jobs, the seed's welcome emails) before timing.
      await sleep(2_000);

      const res = await stack.fetch('/api/articles', {
        method: 'POST',
        headers: { Authorization: `Token ${stack.token}` },
        body: JSON.stringify({
          article: { title: 'Fan-out bench', description: 'd', body: 'Hello, followers.' },
        }),
      });
      const responded = performance.now();
      if (res.status !== 201) throw new Error(`publishing answered ${res.status}`);
      const { article } = (await res.json()) as { article: { slug: string } };
      const [{ id: articleId }] = (await sql<{ id: number }>(
        'select id from articles where slug = ?',
        [article.slug],
      )) as [{ id: number }];
      let notified = 0;
      while (notified < FOLLOWERS) {
        if (performance.now() - responded > 120_000) {
          throw new Error(`only ${notified} of ${FOLLOWERS} notified after 120 s`);
        }
        await sleep(10);
        [{ n: notified }] = (await sql<{ n: number }>(
          'select count(*)::int as n from notifications where article_id = ?',
          [articleId],
        )) as [{ n: number }];
      }
      const fanOutMs = performance.now() - responded;

      // The demo user's list: notifications of seeded articles, a quarter of them read.
      await sql(
        `insert into notifications (user_id, article_id, created_at, read_at)
         select ?, id, now(), case when id % 4 = 0 then now() end from articles
         where author_id <> ? order by id limit ?
         on conflict do nothing`,
        [demo!.id, demo!.id, LIST_NOTIFICATIONS],
      );
      // The worker is idle from here on; stopped anyway, so it takes no CPU from the measurement.
      await worker.stop();
      // Bare Koa before and after the API's runs (the mean), so load drifting during the
      // section moves both sides of the ratio alike.
      const bareRun = async () => {
        const bare = await startBareKoa();
        const cpu = await bareCpuPerRequest(bare);
        await bare.app.stop();
        return cpu;
      };
      const signedIn = (path: string) => [
        { path, headers: { Authorization: `Token ${stack.token}` } },
      ];
      const bareBefore = await bareRun();
      // Warm the path every signed-in request shares (JIT): without it the first endpoint
      // measured costs up to twice its later figure.
      await load(
        stack.apiUrl,
        [...signedIn('/api/notifications?limit=20'), ...signedIn('/api/notifications/settings')],
        { amount: 4_000, connections: 4 },
      );
      // The floor of any signed-in read: one tiny statement (the digest setting).
      const floorCpu = await cpuPerRequest(
        stack.apiUrl,
        stack.api.pid,
        signedIn('/api/notifications/settings'),
      );
      const listCpu = await cpuPerRequest(
        stack.apiUrl,
        stack.api.pid,
        signedIn('/api/notifications?limit=20'),
      );
      const bareAfter = await bareRun();
      const bareCpu = {
        appCpuMs: (bareBefore.appCpuMs + bareAfter.appCpuMs) / 2,
        non2xx: bareBefore.non2xx + bareAfter.non2xx,
      };
      const ratio = listCpu.appCpuMs / bareCpu.appCpuMs;
      const non2xx = bareCpu.non2xx + listCpu.non2xx + floorCpu.non2xx;
      const table = [
        '| measure | value | target |',
        '| --- | ---: | ---: |',
        `| fan-out of one article to ${FOLLOWERS.toLocaleString('en')} followers (response → last row) | ${(fanOutMs / 1000).toFixed(2)} s | < ${FAN_OUT_TARGET_MS / 1000} s |`,
        `| bare Koa JSON endpoint, app CPU per request | ${bareCpu.appCpuMs.toFixed(3)} ms | |`,
        `| GET /api/notifications?limit=20, app CPU per request | ${listCpu.appCpuMs.toFixed(3)} ms | |`,
        `| GET /api/notifications/settings (signed-in floor), app CPU per request | ${floorCpu.appCpuMs.toFixed(3)} ms (${(floorCpu.appCpuMs / bareCpu.appCpuMs).toFixed(1)}×) | |`,
        `| notifications list ÷ bare Koa | ${ratio.toFixed(1)}× | ≤ ${LIST_TARGET_RATIO}× |`,
        `| non-2xx answers during the CPU runs | ${non2xx} | 0 |`,
      ].join('\n');
      return {
        table,
        data: {
          followers: FOLLOWERS,
          fanOutMs,
          listNotifications: LIST_NOTIFICATIONS,
          bareCpuMsPerRequest: bareCpu.appCpuMs,
          listCpuMsPerRequest: listCpu.appCpuMs,
          floorCpuMsPerRequest: floorCpu.appCpuMs,
          ratio,
          non2xx,
        },
      };
    } finally {
      await worker.stop('SIGKILL');
      await stack.close();
    }
  },
};
