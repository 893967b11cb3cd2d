import { createHash } from 'node:crypto';
import { SignJWT, errors, jwtVerify, type JWTHeaderParameters } from 'jose';
import type { Config } from '../../config.js';

const ISSUER = 'plinth';
const AUDIENCE = 'plinth-api';

export interface VerifiedToken {
  userId: number;
  /** Issued-at in milliseconds (the `iat_ms` claim; `iat` has only one-second resolution). */
  issuedAtMs: number;
}

/**
 * Tokens verified by this process, by their exact text, with their expiry: a signed-in client
 * sends the same token on every request, and verifying it again (two WebCrypto jobs on libuv's
 * thread pool) would give the same answer until it expires. Bounded: cleared when full.
 */
const VERIFIED_CACHE_SIZE = 10_000;

/** A key id that names a secret without revealing it: the first 16 hex digits of its SHA-256. */
function keyId(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 16);
}

/**
 * Issues and verifies the RealWorld `Authorization: Token <jwt>` tokens: HS256 with `kid`,
 * issuer, audience and expiry. New tokens are signed with JWT_SECRET; tokens signed with any of
 * JWT_PREVIOUS_SECRETS still verify, so a key rotates without logging anyone out.
 */
export class Tokens {
  private readonly signingKid: string;
  private readonly keys = new Map<string, Uint8Array>();
  private readonly verified = new Map<string, VerifiedToken & { expiresAtMs: number }>();

  constructor(
    private readonly config: Pick<
      Config,
      'JWT_SECRET' | 'JWT_PREVIOUS_SECRETS' | 'JWT_TTL_SECONDS'
    >,
  ) {
    const encoder = new TextEncoder();
    this.signingKid = keyId(config.JWT_SECRET);
    for (const secret of [config.JWT_SECRET, ...config.JWT_PREVIOUS_SECRETS]) {
      this.keys.set(keyId(secret), encoder.encode(secret));
    }
  }

  sign(userId: number): Promise<string> {
    // Millisecond issue time, so a revocation ("log out everywhere") and a login in the same
    // second are still ordered correctly.
    return new SignJWT({ iat_ms: Date.now() })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: this.signingKid })
      .setSubject(String(userId))
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.config.JWT_TTL_SECONDS}s`)
      .sign(this.keys.get(this.signingKid)!);
  }

  /** The claims of a valid token; undefined for a tampered, expired, unsigned or foreign one. */
  async verify(token: string): Promise<VerifiedToken | undefined> {
    const known = this.verified.get(token);
    if (known) {
      if (Date.now() < known.expiresAtMs)
        return { userId: known.userId, issuedAtMs: known.issuedAtMs };
      this.verified.delete(token);
    }
    try {
      const { payload } = await jwtVerify(
        token,
        (header: JWTHeaderParameters) => {
          const key = header.kid ? this.keys.get(header.kid) : undefined;
          if (!key) throw new errors.JWSSignatureVerificationFailed('unknown key id');
          return key;
        },
        {
          algorithms: ['HS256'],
          issuer: ISSUER,
          audience: AUDIENCE,
          requiredClaims: ['exp', 'iat', 'sub'],
        },
      );
      const userId = Number(payload.sub);
      if (!Number.isSafeInteger(userId) || userId <= 0) return undefined;
      const issuedAtMs = typeof payload.iat_ms === 'number' ? payload.iat_ms : payload.iat! * 1000;
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.clear();
      this.verified.set(token, { userId, issuedAtMs, expiresAtMs: payload.exp! * 1000 });
      return { userId, issuedAtMs };
    } catch (err) {
      if (err instanceof errors.JOSEError) return undefined;
      throw err;
    }
  }
}
