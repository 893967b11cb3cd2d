import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { ConfigError } from '../../src/config.js';
import { OidcProviders } from '../../src/modules/auth/oidc.js';
import { User } from '../../src/modules/users/user.entity.js';
import { WELCOME_EMAIL } from '../../src/jobs/contracts.js';
import { startWorker, type RunningWorker } from '../../../worker/src/worker.js';
import { deleteQueueKeys, silentLogger } from '../../../worker/test/support/queues.js';
import { uniqueUser } from '../support/client.js';
import { freePort } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { until } from '../support/wait.js';

/**
 * A real OpenID Connect provider (oidc-provider) on loopback, and the service configured to use
 * it. The "browser" is fetch with manual redirects and a cookie jar per origin; the provider's
 * login and consent pages are answered by code that signs in whichever account the test chose.
 */

const CLIENT = { client_id: 'plinth', client_secret: 'plinth-test-client-secret-0123456789' };
const SUCCESS = 'https://app.example.test/welcome';

interface TestAccount {
  email: string;
  email_verified: boolean;
  preferred_username: string;
}

const accounts = new Map<string, TestAccount>();
/** The account the provider's login page signs in next (set by each test before it starts). */
let signInAs = '';

let server: TestServer;
let provider: Server;
let issuer: string;
let smtp: TestSmtpServer;
let worker: RunningWorker;

async function startProvider(port: number, callbackUrl: string): Promise<Server> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const oidc = new Provider(issuer, {
    clients: [
      {
        ...CLIENT,
        redirect_uris: [callbackUrl],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), use: 'sig', alg: 'RS256' }] },
    cookies: { keys: ['oidc-test-cookie-key'] },
    // Explicit lifetimes (seconds) keep the provider from printing a notice for each default.
    ttl: { Interaction: 600, Session: 600, Grant: 600, AccessToken: 600, IdToken: 600 },
    // Only public clients must use PKCE by default; requiring it proves the service sends it.
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}`,
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username'],
    },
    findAccount: (_ctx: unknown, id: string) => {
      const account = accounts.get(id);
      return account && { accountId: id, claims: () => ({ sub: id, ...account }) };
    },
  });
  const http = createServer((req, res) => {
    if (!req.url?.startsWith('/interaction/')) return oidc.callback()(req, res);
    void (async () => {
      const interaction = await oidc.interactionDetails(req, res);
      if (interaction.prompt.name === 'login') {
        await oidc.interactionFinished(req, res, { login: { accountId: signInAs } });
        return;
      }
      // Consent: grant what the client asked for, as a user clicking "allow" would.
      const grant = new oidc.Grant({
        accountId: interaction.session!.accountId,
        clientId: String(interaction.params.client_id),
      });
      grant.addOIDCScope(String(interaction.params.scope));
      await oidc.interactionFinished(req, res, { consent: { grantId: await grant.save() } });
    })().catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  return http;
}

/** Cookies per origin, as a browser keeps them (paths ignored: every hop is in scope here). */
class CookieJar {
  private readonly byOrigin = new Map<string, Map<string, string>>();

  header(url: string): string {
    const jar = this.byOrigin.get(new URL(url).origin) ?? new Map<string, string>();
    return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get(url: string, name: string): string | undefined {
    return this.byOrigin.get(new URL(url).origin)?.get(name);
  }

  set(url: string, name: string, value: string): void {
    const origin = new URL(url).origin;
    if (!this.byOrigin.has(origin)) this.byOrigin.set(origin, new Map());
    this.byOrigin.get(origin)!.set(name, value);
  }

  store(url: string, res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) this.byOrigin.get(new URL(url).origin)?.delete(name);
      else this.set(url, name, value);
    }
  }
}

interface Hop {
  url: string;
  status: number;
  location: string | undefined;
}

/**
 * Follows redirects from `start` like a browser until a page that is not a redirect, or a
 * redirect off the app and the provider (the front end). `atCallback` may swap the jar or the
 * URL just before the app's callback is requested (tampering, another browser).
 */
async function browse(
  start: string,
  jar: CookieJar,
  atCallback?: (url: URL) => { url: URL; jar: CookieJar },
): Promise<{ hops: Hop[]; last: Response; lastJar: CookieJar }> {
  const hops: Hop[] = [];
  let url = start;
  let current = jar;
  for (let i = 0; i < 20; i += 1) {
    if (
      atCallback &&
      url.startsWith(`${server.baseUrl}/api/auth/oidc/`) &&
      url.includes('/callback')
    ) {
      const swapped = atCallback(new URL(url));
      url = swapped.url.toString();
      current = swapped.jar;
    }
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: current.header(url) } });
    current.store(url, res);
    const location = res.headers.get('location') ?? undefined;
    hops.push({ url, status: res.status, location });
    const next = location && new URL(location, url).toString();
    if (!next || res.status < 300 || res.status >= 400)
      return { hops, last: res, lastJar: current };
    if (!next.startsWith(server.baseUrl) && !next.startsWith(issuer)) {
      return { hops, last: res, lastJar: current };
    }
    url = next;
  }
  throw new Error(`too many redirects: ${JSON.stringify(hops)}`);
}

function account(prefix: string, overrides: Partial<TestAccount> = {}): string {
  const user = uniqueUser(prefix);
  const id = `sub-${user.username}`;
  accounts.set(id, {
    email: user.email,
    email_verified: true,
    preferred_username: user.username,
    ...overrides,
  });
  return id;
}

const loginUrl = (name = 'local') => `${server.baseUrl}/api/auth/oidc/${name}/login`;

async function signIn(accountId: string) {
  signInAs = accountId;
  const jar = new CookieJar();
  const result = await browse(loginUrl(), jar);
  return { ...result, jar, session: jar.get(server.baseUrl, server.config.SESSION_COOKIE_NAME) };
}

function asBrowser(jar: CookieJar) {
  return { headers: { cookie: jar.header(server.baseUrl) } };
}

beforeAll(async () => {
  const [appPort, providerPort, downPort] = await Promise.all([freePort(), freePort(), freePort()]);
  issuer = `http://127.0.0.1:${providerPort}`;
  smtp = await startSmtpServer();
  // The service boots before the provider exists: discovery is lazy, so this must work.
  server = await startTestServer(
    {
      ...smtp.env,
      OUTBOX_POLL_MS: '50',
      PUBLIC_URL: `http://127.0.0.1:${appPort}`,
      OIDC_SUCCESS_REDIRECT: SUCCESS,
      OIDC_PROVIDERS: JSON.stringify([
        { name: 'local', issuer, clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret },
        { name: 'down', issuer: `http://127.0.0.1:${downPort}`, clientId: 'x', clientSecret: 'y' },
      ]),
    },
    { port: appPort, appDeps: { oidcTestOnly: { allowInsecureRequests: true } } },
  );
  provider = await startProvider(providerPort, `${server.baseUrl}/api/auth/oidc/local/callback`);
  // The worker delivers what sign-ups enqueue (the welcome email).
  worker = await startWorker(
    { config: server.config, orm: server.orm, logger: silentLogger() },
    { concurrency: 2 },
  );
}, 60_000);

afterAll(async () => {
  provider?.closeAllConnections();
  await new Promise((resolve) => provider?.close(resolve));
  await worker?.close(10_000);
  await smtp?.close();
  const prefix = server?.config.REDIS_KEY_PREFIX;
  await server?.close();
  if (prefix) await deleteQueueKeys(prefix);
});

/** The welcome-email outbox rows written for the user with `email`. */
const welcomeRows = (email: string) =>
  server.sql<{ user_id: number }>(
    `select u.id as user_id from outbox o join users u on u.id = (o.payload->>'userId')::int
     where o.name = ? and u.email = ?`,
    [WELCOME_EMAIL.name, email.toLowerCase()],
  );

describe('signing in through an OpenID Connect provider', () => {
  it('when a new user completes the code + PKCE flow, then they land on the front end with a working session', async () => {
    const id = account('oidcnew');
    const { hops, last, jar, session } = await signIn(id);

    const toProvider = new URL(hops[0]!.location!);
    expect(hops[0]!.status).toBe(302);
    expect(toProvider.origin).toBe(issuer);
    expect(Object.fromEntries(toProvider.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: CLIENT.client_id,
      redirect_uri: `${server.baseUrl}/api/auth/oidc/local/callback`,
      scope: 'openid email profile',
      code_challenge_method: 'S256',
      code_challenge: expect.stringMatching(/^[\w-]{43}$/),
      state: expect.any(String),
      nonce: expect.any(String),
    });
    expect(last.status).toBe(302);
    expect(last.headers.get('location')).toBe(SUCCESS);
    expect(session).toMatch(/^[\w-]{43}$/);

    const me = await server.api.get('/user', asBrowser(jar));
    expect(me.status).toBe(200);
    expect(me.body.user).toMatchObject({
      email: accounts.get(id)!.email,
      username: accounts.get(id)!.preferred_username,
      role: 'author',
    });
    const current = await server.api.get('/sessions/current', asBrowser(jar));
    expect(current.status).toBe(200);
    expect(current.body.csrfToken).toMatch(/^[\w-]{43}$/);

    const callback = new URL(hops.find((h) => h.url.includes('/callback'))!.url);
    const logged = JSON.stringify(server.logs);
    expect(logged).toContain('oidc login');
    for (const secret of [
      callback.searchParams.get('code')!,
      callback.searchParams.get('state')!,
      session!,
      CLIENT.client_secret,
    ]) {
      expect(logged).not.toContain(secret);
    }
  });

  it('when the same person signs in again, then it is the same account with a new session', async () => {
    const id = account('oidcagain');
    const first = await signIn(id);
    const second = await signIn(id);
    expect(second.session).toBeDefined();
    expect(second.session).not.toBe(first.session);

    const em = server.orm.em.fork();
    const users = await em.find(User, { email: accounts.get(id)!.email });
    expect(users).toHaveLength(1);
    const me = await server.api.get('/user', asBrowser(second.jar));
    expect(me.body.user.username).toBe(users[0]!.username);
  });

  it('when someone with a password account signs in with the same verified email, then the accounts are linked', async () => {
    const registered = await server.api.register('oidclink');
    // Providers may report the address in another case; accounts are keyed by lower-case email.
    const id = account('oidclink', { email: registered.email.toUpperCase() });
    const { jar, session } = await signIn(id);
    expect(session).toBeDefined();

    const me = await server.api.get('/user', asBrowser(jar));
    expect(me.body.user).toMatchObject({ email: registered.email, username: registered.username });
  });

  it('when a new user signs up through the provider, then they get the welcome email once; signing in again or linking a password account sends no second one', async () => {
    const id = account('oidcwelcome');
    await signIn(id);
    const email = accounts.get(id)!.email;
    const [row] = await welcomeRows(email);
    const messageId = `<welcome-${row!.user_id}@plinth.test>`;
    await until(() => smtp.received.some((m) => m.header('message-id') === messageId), 30_000);
    const mail = smtp.received.find((m) => m.header('message-id') === messageId)!;
    expect(mail.to).toEqual([email]);
    expect(mail.header('subject')).toBe('Welcome to Plinth');

    await signIn(id);
    expect(await welcomeRows(email)).toHaveLength(1);
    // A password account signing in through the provider was welcomed when it registered.
    const registered = await server.api.register('oidcwelcomelink');
    await signIn(account('oidcwelcomelink', { email: registered.email }));
    expect(await welcomeRows(registered.email)).toHaveLength(1);
  });

  it('when the chosen username is taken, then the new account gets a unique one', async () => {
    const other = await server.api.register('oidctaken');
    const id = account('oidctaken', { preferred_username: other.username });
    const { jar } = await signIn(id);

    const me = await server.api.get('/user', asBrowser(jar));
    expect(me.status).toBe(200);
    expect(me.body.user.email).toBe(accounts.get(id)!.email);
    expect(me.body.user.username).toMatch(new RegExp(`^${other.username}-[0-9a-f]{6}$`));
  });

  it('when the provider has not verified the email, then 403 and no session', async () => {
    const id = account('oidcunverified', { email_verified: false });
    const { last, session } = await signIn(id);
    expect(last.status).toBe(403);
    expect(await last.json()).toMatchObject({
      errors: { email: ['must be verified by the identity provider'] },
    });
    expect(session).toBeUndefined();
    const em = server.orm.em.fork();
    expect(await em.count(User, { email: accounts.get(id)!.email })).toBe(0);
  });

  it('when the account is suspended, then 403 and no session', async () => {
    const registered = await server.api.register('oidcsuspended');
    const em = server.orm.em.fork();
    await em.nativeUpdate(User, { email: registered.email }, { suspendedAt: new Date() });
    const { last, session } = await signIn(account('oidcsuspended', { email: registered.email }));
    expect(last.status).toBe(403);
    expect(session).toBeUndefined();
  });
});

describe('refused callbacks', () => {
  it('when the state in the callback was tampered with, then 400 and no session', async () => {
    signInAs = account('oidctamper');
    const jar = new CookieJar();
    const { last, lastJar } = await browse(loginUrl(), jar, (url) => {
      url.searchParams.set('state', 'forged-state-value');
      return { url, jar };
    });
    expect(last.status).toBe(400);
    expect(await last.json()).toMatchObject({
      errors: { state: ['is missing or does not match this browser'] },
    });
    expect(lastJar.get(server.baseUrl, server.config.SESSION_COOKIE_NAME)).toBeUndefined();
  });

  it('when the callback arrives in another browser, then 400 and no session', async () => {
    signInAs = account('oidcforward');
    const other = new CookieJar();
    const { last } = await browse(loginUrl(), new CookieJar(), (url) => ({ url, jar: other }));
    expect(last.status).toBe(400);
    expect(other.get(server.baseUrl, server.config.SESSION_COOKIE_NAME)).toBeUndefined();
  });

  it('when a completed callback is replayed, then 400: each login is single-use', async () => {
    signInAs = account('oidcreplay');
    let callback: URL | undefined;
    let stateCookie: [string, string] | undefined;
    const jar = new CookieJar();
    const cookieName = `${server.config.SESSION_COOKIE_NAME}_oidc`;
    const { last } = await browse(loginUrl(), jar, (url) => {
      callback = new URL(url);
      stateCookie = [cookieName, jar.get(server.baseUrl, cookieName)!];
      return { url, jar };
    });
    expect(last.status).toBe(302);

    const replay = await fetch(callback!, {
      redirect: 'manual',
      headers: { cookie: `${stateCookie![0]}=${stateCookie![1]}` },
    });
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({
      errors: { state: ['has expired or was already used'] },
    });
  });

  it('when the provider reports an error (the user denied access), then 400', async () => {
    signInAs = account('oidcdenied');
    const jar = new CookieJar();
    const { last } = await browse(loginUrl(), jar, (url) => {
      const denied = new URL(url.pathname, url);
      denied.searchParams.set('error', 'access_denied');
      denied.searchParams.set('state', url.searchParams.get('state')!);
      return { url: denied, jar };
    });
    expect(last.status).toBe(400);
    expect(await last.json()).toMatchObject({ errors: { provider: ['answered access_denied'] } });
  });
});

describe('providers', () => {
  it('when the provider is unknown, then 404', async () => {
    const res = await fetch(loginUrl('nope'), { redirect: 'manual' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ errors: { provider: ['not found'] } });
  });

  it('when a configured provider is unreachable, then its login answers 502 and the service keeps running', async () => {
    const res = await fetch(loginUrl('down'), { redirect: 'manual' });
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ errors: { provider: [expect.any(String)] } });
    expect((await fetch(`${server.baseUrl}/health/live`)).status).toBe(200);
  });

  it('when the issuer is plain HTTP and no test-only allowance is injected, then it is refused', async () => {
    const strict = new OidcProviders([
      { name: 'local', issuer, clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret },
    ]).get('local')!;
    await expect(strict.start(`${server.baseUrl}/cb`)).rejects.toMatchObject({
      status: 502,
      reason: expect.stringMatching(/https/i),
    });
  });

  it('when a provider has neither issuer nor preset, then start-up fails naming OIDC_PROVIDERS', () => {
    const build = () => new OidcProviders([{ name: 'corp', clientId: 'a', clientSecret: 'b' }]);
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/OIDC_PROVIDERS entry "corp" has neither "issuer" nor "preset"/);
  });
});
