import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import * as client from 'openid-client';
import { ConfigError, type Config } from '../../config.js';
import { violatedUniqueConstraint } from '../../db/errors.js';
import { AppError, ForbiddenError } from '../../errors.js';
import type { RedisGuard } from '../../redis-guard.js';
import type { Passwords } from '../users/passwords.js';
import { User } from '../users/user.entity.js';
import type { NewAccount } from '../users/users.service.js';
import { sha256 } from '../../crypto.js';

export type OidcProviderConfig = Config['OIDC_PROVIDERS'][number];

/**
 * Lets openid-client talk to an issuer over plain HTTP. Only tests inject it (through
 * `createApp` deps, never from the environment), so a production process cannot be switched to
 * trust an unencrypted identity provider.
 */
export interface OidcTestOnlyOptions {
  /** Passes openid-client's `allowInsecureRequests` to discovery and every later request. */
  allowInsecureRequests: true;
}

/** Who the provider says signed in; `emailVerified` must be true before we trust `email`. */
export interface OidcIdentity {
  provider: string;
  subject: string;
  email: string | undefined;
  emailVerified: boolean;
  /** Best guess at a handle: preferred_username, GitHub login, name, or the email's local part. */
  usernameHint: string | undefined;
}

/** What the login step remembers (server-side, keyed by state) for the callback. */
export interface OidcFlow {
  provider: string;
  codeVerifier: string;
  nonce: string | undefined;
}

const GOOGLE_ISSUER = 'https://accounts.google.com';
const DEFAULT_SCOPES = ['openid', 'email', 'profile'];

/**
 * GitHub speaks plain OAuth 2 (no discovery, no ID token), so its endpoints are fixed here and the
 * identity comes from its REST API: the verified primary address of /user/emails (needs the
 * `user:email` scope) and the account id and login of /user.
 * https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps
 */
const GITHUB = {
  server: {
    issuer: 'https://github.com/login/oauth',
    authorization_endpoint: 'https://github.com/login/oauth/authorize',
    token_endpoint: 'https://github.com/login/oauth/access_token',
  },
  api: 'https://api.github.com',
  scopes: ['read:user', 'user:email'],
} as const;

/** The provider answered, but not with a usable login (bad code, bad ID token, unreachable). */
export class ProviderError extends AppError {
  /** For the log: what went wrong (library error name and message; never tokens or secrets). */
  readonly reason: string;

  constructor(cause: unknown) {
    super(502, { provider: ['could not complete the login; try again'] });
    this.reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  }
}

/** One configured identity provider: builds the authorization URL and redeems the callback. */
export class OidcProvider {
  private configuration: Promise<client.Configuration> | undefined;

  constructor(
    readonly settings: OidcProviderConfig,
    private readonly testOnly: OidcTestOnlyOptions | undefined,
  ) {}

  get name(): string {
    return this.settings.name;
  }

  /** GitHub issues no ID token and has no nonce; every other provider is OpenID Connect. */
  get isOidc(): boolean {
    return this.settings.preset !== 'github';
  }

  get scopes(): string[] {
    return this.settings.scopes ?? (this.isOidc ? DEFAULT_SCOPES : [...GITHUB.scopes]);
  }

  /**
   * Discovered on first use and cached, so a provider that is down neither stops the service from
   * booting nor stays broken once it is back (a failed discovery is forgotten).
   */
  private config(): Promise<client.Configuration> {
    this.configuration ??= this.discover().catch((err: unknown) => {
      this.configuration = undefined;
      throw err;
    });
    return this.configuration;
  }

  private async discover(): Promise<client.Configuration> {
    const { clientId, clientSecret, preset } = this.settings;
    if (preset === 'github') {
      // GitHub documents the client secret as a body parameter.
      return new client.Configuration(
        { ...GITHUB.server },
        clientId,
        {},
        client.ClientSecretPost(clientSecret),
      );
    }
    const issuer = preset === 'google' ? GOOGLE_ISSUER : this.settings.issuer!;
    // HTTP Basic is what OpenID Connect registration assumes when a client names no method.
    return client.discovery(new URL(issuer), clientId, {}, client.ClientSecretBasic(clientSecret), {
      execute: this.testOnly?.allowInsecureRequests ? [client.allowInsecureRequests] : [],
    });
  }

  /** A fresh flow (PKCE S256 verifier, state, nonce) and the URL to send the browser to. */
  async start(redirectUri: string): Promise<{ url: URL; state: string; flow: OidcFlow }> {
    const config = await this.config().catch((err: unknown) => {
      throw new ProviderError(err);
    });
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = this.isOidc ? client.randomNonce() : undefined;
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      ...(nonce ? { nonce } : {}),
    });
    return { url, state, flow: { provider: this.name, codeVerifier, nonce } };
  }

  /**
   * Redeems the authorization response (`callbackUrl` is the redirect URI plus the query the
   * provider sent) and returns who signed in. Any protocol or network failure is a ProviderError.
   */
  async finish(callbackUrl: URL, state: string, flow: OidcFlow): Promise<OidcIdentity> {
    try {
      const config = await this.config();
      const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: flow.codeVerifier,
        expectedState: state,
        ...(flow.nonce ? { expectedNonce: flow.nonce, idTokenExpected: true } : {}),
      });
      return this.isOidc
        ? await this.oidcIdentity(config, tokens)
        : await this.githubIdentity(config, tokens.access_token);
    } catch (err) {
      throw new ProviderError(err);
    }
  }

  private async oidcIdentity(
    config: client.Configuration,
    tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>,
  ): Promise<OidcIdentity> {
    let claims: Record<string, unknown> = { ...tokens.claims() };
    // Many providers put email only in UserInfo (and oidc-provider keeps ID tokens minimal when
    // an access token is issued), so ask there when the ID token does not say.
    if (claims.email === undefined && config.serverMetadata().userinfo_endpoint) {
      const info = await client.fetchUserInfo(config, tokens.access_token, String(claims.sub));
      claims = { ...info, ...claims, email: info.email, email_verified: info.email_verified };
    }
    const email = typeof claims.email === 'string' ? claims.email : undefined;
    return {
      provider: this.name,
      subject: String(claims.sub),
      email,
      emailVerified: claims.email_verified === true,
      usernameHint: firstString(claims.preferred_username, claims.nickname, claims.name),
    };
  }

  private async githubIdentity(
    config: client.Configuration,
    accessToken: string,
  ): Promise<OidcIdentity> {
    const get = async <T>(path: string): Promise<T> => {
      const res = await client.fetchProtectedResource(
        config,
        accessToken,
        new URL(path, GITHUB.api),
        'GET',
        undefined,
        new Headers({ Accept: 'application/vnd.github+json' }),
      );
      if (!res.ok) throw new Error(`GitHub ${path} answered ${res.status}`);
      return (await res.json()) as T;
    };
    const user = await get<{ id: number; login: string; name: string | null }>('/user');
    const emails =
      await get<{ email: string; primary: boolean; verified: boolean }[]>('/user/emails');
    const primary = emails.find((e) => e.primary);
    return {
      provider: this.name,
      subject: String(user.id),
      email: primary?.email,
      emailVerified: primary?.verified === true,
      usernameHint: firstString(user.login, user.name),
    };
  }
}

function firstString(...values: unknown[]): string | undefined {
  return values.find((v): v is string => typeof v === 'string' && v.trim() !== '');
}

/**
 * The configured providers by name. Checks OIDC_PROVIDERS at boot (createApp) beyond what the
 * schema can: unique names, and an issuer for every provider without a preset.
 */
export class OidcProviders {
  private readonly byName = new Map<string, OidcProvider>();

  constructor(settings: OidcProviderConfig[], testOnly?: OidcTestOnlyOptions) {
    const problems: string[] = [];
    for (const s of settings) {
      if (!s.preset && !s.issuer) {
        problems.push(
          `OIDC_PROVIDERS entry "${s.name}" has neither "issuer" nor "preset". ` +
            'Set "issuer" to the OpenID Connect issuer URL (its /.well-known/openid-configuration ' +
            'is read), or "preset" to "google" or "github"',
        );
      }
      if (this.byName.has(s.name)) {
        problems.push(`OIDC_PROVIDERS names "${s.name}" twice. Give every provider its own name`);
      }
      this.byName.set(s.name, new OidcProvider(s, testOnly));
    }
    if (problems.length > 0) throw new ConfigError(problems);
  }

  get(name: string): OidcProvider | undefined {
    return this.byName.get(name);
  }
}

const FLOW_TTL_SECONDS = 10 * 60;

/**
 * Pending logins in Redis, keyed by a hash of their state and readable once: a replayed or
 * late callback finds nothing.
 */
export class OidcFlows {
  constructor(
    private readonly guard: RedisGuard,
    private readonly keyPrefix: string,
  ) {}

  /** How long a login may take between leaving for the provider and coming back. */
  static readonly ttlSeconds = FLOW_TTL_SECONDS;

  private key(state: string): string {
    return `${this.keyPrefix}oidc-flow:${sha256(state)}`;
  }

  async save(state: string, flow: OidcFlow): Promise<void> {
    await this.guard.run('state', (redis) =>
      redis.set(this.key(state), JSON.stringify(flow), 'EX', FLOW_TTL_SECONDS),
    );
  }

  async take(state: string): Promise<OidcFlow | undefined> {
    const raw = await this.guard.run('state', (redis) => redis.getdel(this.key(state)));
    return raw ? (JSON.parse(raw) as OidcFlow) : undefined;
  }
}

const USERNAME_MAX = 64;

/** A username our rules accept (no / \ ? # %), derived from what the provider told us. */
function baseUsername(identity: OidcIdentity, email: string): string {
  const raw = identity.usernameHint ?? email.split('@')[0] ?? 'user';
  const cleaned = raw
    .normalize('NFKC')
    .replace(/[/\\?#%\s]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, USERNAME_MAX - 7);
  return cleaned || 'user';
}

/**
 * The account for a provider login: the user with that verified email (linking is by email:
 * the provider vouched for it), else a new user with a random, never-disclosed password, so the
 * account only opens through the provider until its owner sets a password. `create` makes the
 * account (UsersService.createAccount, which also enqueues the welcome email).
 */
export async function accountFor(
  em: EntityManager,
  passwords: Passwords,
  identity: OidcIdentity,
  create: (account: NewAccount) => Promise<User>,
): Promise<{ user: User; created: boolean }> {
  if (!identity.email || !identity.emailVerified) {
    throw new ForbiddenError('must be verified by the identity provider', 'email');
  }
  const email = identity.email.trim().toLowerCase();
  const base = baseUsername(identity, email);
  for (let attempt = 0; attempt < 8; attempt += 1) {
    const existing = await em.findOne(User, { email });
    if (existing) {
      if (existing.suspendedAt) throw new ForbiddenError('is suspended', 'account');
      return { user: existing, created: false };
    }
    const username = attempt === 0 ? base : `${base}-${randomBytes(3).toString('hex')}`;
    if (await em.findOne(User, { username })) continue;
    const passwordHash = await passwords.hash(randomBytes(32).toString('base64url'));
    try {
      return { user: await create({ email, username, passwordHash }), created: true };
    } catch (err) {
      // A concurrent login took the email (the next loop links to it) or the username.
      if (!violatedUniqueConstraint(err)) throw err;
      em.clear();
    }
  }
  throw new Error(`no free username found for a new ${identity.provider} account`);
}
