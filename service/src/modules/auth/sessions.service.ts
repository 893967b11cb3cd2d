import { RedisUnavailableError } from '../../redis-guard.js';
import { FeatureService, type ServiceFactory } from '../feature-service.js';
import type { Passwords } from '../users/passwords.js';
import type { User } from '../users/user.entity.js';
import type { UserDto } from '../users/users.schemas.js';
import { toUserDto, type UsersService } from '../users/users.service.js';
import { accountFor, type OidcIdentity } from './oidc.js';
import type { Sessions } from './sessions.js';

export interface SessionsDeps {
  /** Where sessions live (Redis). */
  store: Sessions;
  /** Checks the credentials of a password login. */
  users: ServiceFactory<UsersService>;
  /** Gives an account created by a provider login a password nobody knows. */
  passwords: Passwords;
}

/** A session as its owner sees it: who is logged in, and the CSRF token unsafe requests echo. */
export interface SessionDto {
  user: Omit<UserDto, 'token'>;
  csrfToken: string;
}

/** A session just started: `id` goes into the cookie, never into a response body. */
export interface StartedSession {
  id: string;
  session: SessionDto;
}

function toSessionDto(
  user: Pick<User, 'email' | 'username' | 'bio' | 'image' | 'role'>,
  csrfToken: string,
): SessionDto {
  const { token: _token, ...rest } = toUserDto(user, '');
  return { user: rest, csrfToken };
}

/**
 * Cookie sessions and revocation: log in (with a password or a provider's word), the current
 * session, log out, and "log out everywhere" (every session and every token of a user).
 */
export class SessionsService extends FeatureService<SessionsDeps> {
  /** Checks the password, then starts a session for that user. */
  async login(
    credentials: { email: string; password: string },
    previousId: string | undefined,
  ): Promise<StartedSession> {
    const user = await this.deps.users(this.em, this.actor).authenticate(credentials);
    return this.start(user, previousId);
  }

  /**
   * Starts a session for the account an identity provider vouched for (linked by verified email,
   * or created); `created` says which.
   */
  async loginWithProvider(
    identity: OidcIdentity,
    previousId: string | undefined,
  ): Promise<StartedSession & { user: User; created: boolean }> {
    const users = this.deps.users(this.em, this.actor);
    const { user, created } = await accountFor(this.em, this.deps.passwords, identity, (account) =>
      users.createAccount(account),
    );
    return { ...(await this.start(user, previousId)), user, created };
  }

  /**
   * Starts a session for a user whose identity was just proven (password, identity provider).
   * The browser's previous session ends first: a login always gets a new id (no fixation).
   */
  async start(user: User, previousId: string | undefined): Promise<StartedSession> {
    if (previousId) await this.deps.store.destroy(previousId, user.id).catch(() => undefined);
    const { id, session } = await this.deps.store.create(user.id);
    return { id, session: toSessionDto(user, session.csrfToken) };
  }

  /** The acting user's session, with its CSRF token (empty when they used a bearer token). */
  current(csrfToken: string): SessionDto {
    return toSessionDto(this.user, csrfToken);
  }

  /** Ends one session of the acting user. */
  async end(id: string): Promise<void> {
    await this.deps.store.destroy(id, this.user.id);
  }

  /**
   * Ends all sessions of `target` and kills all tokens issued to it so far: "log out everywhere"
   * for the acting user's own account, suspension when an admin acts on another's. The database
   * instant decides (authentication refuses any token or session from before it); deleting the
   * session keys only tidies Redis, so a Redis outage does not fail the revocation.
   */
  async revokeAll(other?: User): Promise<void> {
    if (other && other.id !== this.user.id) {
      this.authorize('manage', 'Admin', "only admins may end another user's sessions");
    }
    const target = other ?? (await this.account());
    target.tokensValidAfter = new Date();
    await this.em.flush();
    await this.deps.store.destroyAll(target.id).catch((err: unknown) => {
      // The keys expire on their own (idle timeout); they can no longer authenticate anyone.
      if (!(err instanceof RedisUnavailableError)) throw err;
    });
  }
}
