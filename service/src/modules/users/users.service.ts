import type { ReadCache } from '../../cache.js';
import { violatedUniqueConstraint } from '../../db/errors.js';
import { jobRequest, WELCOME_EMAIL } from '../../jobs/contracts.js';
import { UnauthorizedError, ValidationError, type ErrorBody } from '../../errors.js';
import { asAccount } from '../auth/abilities.js';
import { FeatureService } from '../feature-service.js';
import type { Passwords } from './passwords.js';
import type { Tokens } from './tokens.js';
import { User } from './user.entity.js';
import type { UserDto } from './users.schemas.js';

const TAKEN: Record<string, keyof ErrorBody> = {
  users_email_unique: 'email',
  users_username_unique: 'username',
};

export interface UsersDeps {
  /** Profile changes invalidate what shows profiles (docs/read-path.md). */
  cache: ReadCache;
  passwords: Passwords;
  tokens: Tokens;
}

/** What a new account is made of (the password already hashed). */
export interface NewAccount {
  username: string;
  email: string;
  passwordHash: string;
}

export function toUserDto(
  user: Pick<User, 'email' | 'username' | 'bio' | 'image' | 'role'>,
  token: string,
): UserDto {
  return {
    email: user.email,
    token,
    username: user.username,
    bio: user.bio,
    image: user.image,
    role: user.role,
  };
}

/** Registration, login and the current user's account. */
export class UsersService extends FeatureService<UsersDeps> {
  async register(input: { username: string; email: string; password: string }): Promise<UserDto> {
    this.authorize('create', 'User', 'log out before registering');
    await this.assertAvailable(input);
    const passwordHash = await this.deps.passwords.hash(input.password);
    const user = await this.mappingConflicts(() =>
      this.createAccount({ username: input.username, email: input.email, passwordHash }),
    );
    return toUserDto(user, await this.deps.tokens.sign(user.id));
  }

  /**
   * Creates a user and its welcome email (an outbox row) in one transaction: both or neither.
   * Every way an account comes to be (registration, a first login through an identity
   * provider) goes through here, so none of them misses the welcome. No authorization: callers
   * decide who may create an account. A taken email or username rejects with the unique
   * violation (callers map it).
   */
  async createAccount(data: NewAccount): Promise<User> {
    return this.em.transactional(async (em) => {
      const created = em.create(User, data);
      await em.flush();
      await this.enqueue(em, jobRequest(WELCOME_EMAIL, { userId: created.id }));
      return created;
    });
  }

  /**
   * Checks credentials. Unknown email and wrong password fail identically, and an unknown email
   * still costs one (dummy) verification. A hash made with old parameters is upgraded in place.
   */
  async authenticate(input: { email: string; password: string }): Promise<User> {
    const user = await this.em.findOne(
      User,
      { email: input.email },
      { populate: ['passwordHash'] },
    );
    const ok = user
      ? await this.deps.passwords.verify(user.passwordHash, input.password)
      : await this.deps.passwords.verifyDummy(input.password);
    if (!user || !ok) throw new UnauthorizedError('is invalid', 'email or password');
    if (user.suspendedAt) throw new UnauthorizedError('is suspended', 'account');
    if (this.deps.passwords.needsRehash(user.passwordHash)) {
      user.passwordHash = await this.deps.passwords.hash(input.password);
      await this.em.flush();
    }
    return user;
  }

  async login(input: { email: string; password: string }): Promise<UserDto> {
    const user = await this.authenticate(input);
    return toUserDto(user, await this.deps.tokens.sign(user.id));
  }

  /** The acting user, with the token they authenticated with (empty for a session). */
  current(token: string): UserDto {
    return toUserDto(this.user, token);
  }

  async update(
    changes: { email?: string; username?: string; password?: string; bio?: string; image?: string },
    token: string,
  ): Promise<UserDto> {
    this.authorize('update', asAccount({ id: this.user.id }));
    const user = await this.account();
    await this.assertAvailable(changes, user.id);
    const { password, ...rest } = changes;
    const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    this.em.assign(user, defined);
    if (password !== undefined) user.passwordHash = await this.deps.passwords.hash(password);
    await this.deps.cache.write(['users', 'lists'], () => this.flushMappingConflicts());
    return toUserDto(user, token);
  }

  /** Friendly pre-check naming every taken field; the unique constraints remain the guarantee. */
  private async assertAvailable(input: { email?: string; username?: string }, selfId?: number) {
    const or = [
      ...(input.email ? [{ email: input.email }] : []),
      ...(input.username ? [{ username: input.username }] : []),
    ];
    if (or.length === 0) return;
    const clashes = await this.em.find(User, {
      $or: or,
      ...(selfId ? { id: { $ne: selfId } } : {}),
    });
    const errors: ErrorBody = {};
    for (const other of clashes) {
      if (input.email && other.email === input.email) errors.email = ['has already been taken'];
      if (input.username && other.username === input.username)
        errors.username = ['has already been taken'];
    }
    if (Object.keys(errors).length > 0) throw new ValidationError(errors);
  }

  /** Flushes; a unique violation from a concurrent writer becomes the same 422 as the pre-check. */
  private async flushMappingConflicts(): Promise<void> {
    await this.mappingConflicts(() => this.em.flush());
  }

  /** Runs `work`, mapping a unique violation to the same 422 as the pre-check. */
  private async mappingConflicts<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      const field = TAKEN[violatedUniqueConstraint(err) ?? ''];
      if (field) {
        this.em.clear();
        throw new ValidationError({ [field]: ['has already been taken'] });
      }
      throw err;
    }
  }
}
