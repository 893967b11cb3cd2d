import { hash, verify } from '@node-rs/argon2';

/** `Algorithm.Argon2id` (an ambient const enum, which isolated modules cannot read). */
const ARGON2ID = 2;
import type { Config } from '../../config.js';

export type PasswordParams = Pick<
  Config,
  'ARGON2_MEMORY_KIB' | 'ARGON2_TIME_COST' | 'ARGON2_PARALLELISM'
>;

/** argon2id hashing (prebuilt @node-rs/argon2 binding: installs without a compiler). */
export class Passwords {
  private readonly options;
  private dummyHash: Promise<string> | undefined;
  /** Verifications performed (real and dummy): lets tests assert work done, not timings. */
  verifications = 0;

  constructor(params: PasswordParams) {
    this.options = {
      algorithm: ARGON2ID,
      memoryCost: params.ARGON2_MEMORY_KIB,
      timeCost: params.ARGON2_TIME_COST,
      parallelism: params.ARGON2_PARALLELISM,
    };
  }

  hash(password: string): Promise<string> {
    return hash(password, this.options);
  }

  async verify(passwordHash: string, password: string): Promise<boolean> {
    this.verifications += 1;
    try {
      return await verify(passwordHash, password);
    } catch {
      return false;
    }
  }

  /** True when a hash was made with other parameters than the configured ones (rehash on login). */
  needsRehash(passwordHash: string): boolean {
    const { memoryCost, timeCost, parallelism } = this.options;
    return !passwordHash.startsWith(
      `$argon2id$v=19$m=${memoryCost},t=${timeCost},p=${parallelism}$`,
    );
  }

  /**
   * Spends one verification on a fixed hash, so a login for an unknown email costs the same as
   * one with a wrong password and response time does not reveal which emails exist.
   */
  async verifyDummy(password: string): Promise<false> {
    this.dummyHash ??= this.hash('plinth-dummy-password-for-timing');
    await this.verify(await this.dummyHash, password);
    return false;
  }
}
