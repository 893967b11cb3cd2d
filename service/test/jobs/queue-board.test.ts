// Bull Board in a real browser (Debian's Chromium driven by playwright-core): an admin signed in
// with a session cookie sees the queues and retries a failed job under the board's CSP; anyone
// else gets 403, nobody at all 401.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { loadConfig } from '../../src/config.js';
import { BOARD_PATH, createQueueBoard, type QueueBoard } from '../../src/http/queue-board.js';
import { EMAIL_QUEUE, WELCOME_EMAIL } from '../../src/jobs/contracts.js';
import { createQueue, type Job, type Queue } from '../../src/jobs/queue.js';
import { createLogger } from '../../src/logger.js';
import type { Account } from '../support/client.js';
import { testEnv, uniqueName } from '../support/env.js';
import { REPO_ROOT } from '../support/paths.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';
import { deleteQueueKeys } from '../../../worker/test/support/queues.js';

jest.setTimeout(120_000);

const exec = promisify(execFile);
const prefix = `${uniqueName('t')}:`;
let server: TestServer;
let board: QueueBoard;
let browser: Browser;
let queue: Queue;
let failed: Job;
let admin: Account;
let author: Account;

beforeAll(async () => {
  const { stdout } = await exec('bash', ['scripts/ensure-chromium.sh'], { cwd: REPO_ROOT });
  const config = loadConfig(
    testEnv('postgres://postgres@127.0.0.1:5432/unused', { REDIS_KEY_PREFIX: prefix }),
  );
  const logger = createLogger({ level: 'silent' });
  board = createQueueBoard(config, logger);
  server = await startTestServer({ REDIS_KEY_PREFIX: prefix }, { appDeps: { queueBoard: board } });
  admin = await server.register('boardadmin', 'admin');
  author = await server.register('boardauthor');

  // A dead letter: one attempt, failed by a processor of the test's own, then nothing consumes.
  queue = createQueue(EMAIL_QUEUE, config, logger);
  const done = new Promise<void>((resolve) => queue.once('failed', () => resolve()));
  void queue.process(WELCOME_EMAIL.name, 1, async () => {
    throw new Error('SMTP 550: mailbox unavailable');
  });
  failed = await queue.add(
    WELCOME_EMAIL.name,
    { payload: { userId: 1 }, meta: {} },
    { attempts: 1 },
  );
  await done;
  await queue.pause(true);

  browser = await chromium.launch({
    executablePath: stdout.trim(),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await queue?.close();
  await board?.close();
  await server?.close();
  await deleteQueueKeys(prefix);
});

/** A browser context signed in as `account` with a session cookie. */
async function signedIn(account: Account): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: server.baseUrl });
  const res = await context.request.post('/api/sessions', {
    data: { user: { email: account.email, password: account.password } },
  });
  expect(res.status()).toBe(201);
  return context;
}

describe('Bull Board', () => {
  it('when an admin opens the board, then the queues show under its CSP and a failed job can be retried', async () => {
    const context = await signedIn(admin);
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (message) => {
      const text = message.text();
      // The loading spinner's inline style is refused on purpose (no 'unsafe-inline'); anything
      // else refused would break the board.
      if (/Content Security Policy/.test(text) && !/style-src/.test(text)) violations.push(text);
    });
    page.on('dialog', (dialog) => void dialog.accept());
    const res = await page.goto(BOARD_PATH);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'self'/);
    await page.getByText(EMAIL_QUEUE, { exact: true }).first().waitFor();
    await page.getByText('maintenance', { exact: true }).first().waitFor();

    await page.goto(`${BOARD_PATH}/queue/${EMAIL_QUEUE}?status=failed`);
    await page.getByText('SMTP 550: mailbox unavailable').first().waitFor();
    // The board's per-job buttons are icons; "Retry all" retries the failed list (this one job).
    await page.getByRole('button', { name: 'Retry all' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await until(async () => (await (await queue.getJob(failed.id))?.getState()) === 'waiting');
    expect(violations).toEqual([]);
    await context.close();
  });

  it('when a non-admin opens it (cookie or token), then 403; without credentials, 401', async () => {
    const context = await signedIn(author);
    const page = await context.newPage();
    expect((await page.goto(BOARD_PATH))?.status()).toBe(403);
    await context.close();
    const byToken = await server.api.request('GET', `/admin/board`, { token: author.token });
    expect(byToken.status).toBe(403);
    const api = await server.api.request('GET', `/admin/board/api/queues`, { token: author.token });
    expect(api.status).toBe(403);
    expect((await server.api.get('/admin/board')).status).toBe(401);
  });

  it('when a cookie-authenticated change comes from another site, then 403 before the board', async () => {
    const res = await fetch(
      `${server.baseUrl}${BOARD_PATH}/api/queues/${EMAIL_QUEUE}/retry/failed`,
      {
        method: 'PUT',
        headers: {
          Cookie: await sessionCookie(admin),
          'Sec-Fetch-Site': 'cross-site',
        },
      },
    );
    expect(res.status).toBe(403);
  });
});

/** The session cookie of a fresh login, as a Cookie header. */
async function sessionCookie(account: Account): Promise<string> {
  const res = await fetch(`${server.baseUrl}/api/sessions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user: { email: account.email, password: account.password } }),
  });
  return res.headers.getSetCookie()[0]!.split(';')[0]!;
}
