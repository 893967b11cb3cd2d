import { SignJWT, errors, jwtVerify } from 'jose';
import type { Config } from '../../config.js';

const ISSUER = 'plinth';
const AUDIENCE = 'plinth-api';

/** Issues and verifies the RealWorld `Authorization: Token <jwt>` tokens (HS256, with expiry). */
export class Tokens {
  private readonly key: Uint8Array;

  constructor(private readonly config: Pick<Config, 'JWT_SECRET' | 'JWT_TTL_SECONDS'>) {
    this.key = new TextEncoder().encode(config.JWT_SECRET);
  }

  sign(userId: number): Promise<string> {
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(String(userId))
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.config.JWT_TTL_SECONDS}s`)
      .sign(this.key);
  }

  /** The user id in a valid token, or undefined for any invalid, expired or foreign token. */
  async verify(token: string): Promise<number | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
      });
      const id = Number(payload.sub);
      return Number.isSafeInteger(id) && id > 0 ? id : undefined;
    } catch (err) {
      if (err instanceof errors.JOSEError) return undefined;
      throw err;
    }
  }
}
