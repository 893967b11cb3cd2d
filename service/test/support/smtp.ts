import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** One message the server accepted. */
export interface ReceivedMail {
  /** Envelope recipients. */
  to: string[];
  /** The raw RFC 5322 message. */
  raw: string;
  /** Header value by lower-case name (first occurrence, unfolded). */
  header(name: string): string | undefined;
}

/**
 * What the server answers to the next message: accept it, or refuse it with an SMTP reply code
 * (4xx: try again later; 5xx: permanent).
 */
export type Verdict = { accept: true } | { accept: false; code: number; message: string };

export interface TestSmtpServer {
  port: number;
  /** Every accepted message, in order. */
  received: ReceivedMail[];
  /** Messages refused so far (by the verdict), with the code given. */
  refused: number[];
  /** Decides each message from now on; `attempt` counts every message offered (1-based). */
  judge(verdict: (attempt: number) => Verdict): void;
  /** Answers each message `ms` after its data arrived from now on (a slow provider). */
  slow(ms: number): void;
  /** The SMTP_* variables for a client of this server. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** RFC 2047 encoded words (`=?UTF-8?Q?...?=`, `=?UTF-8?B?...?=`) as text. */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(
      /=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g,
      (_, _charset: string, enc: string, text: string) =>
        enc.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64').toString('utf8')
          : Buffer.from(
              text
                .replace(/_/g, ' ')
                .replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) =>
                  String.fromCharCode(parseInt(hex, 16)),
                ),
              'latin1',
            ).toString('utf8'),
    );
}

/** A header's decoded value. */
function headerOf(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/, 1)[0] ?? '';
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const line = unfolded
    .split(/\r?\n/)
    .find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line === undefined ? undefined : decodeWords(line.slice(name.length + 1).trim());
}

export interface SmtpServerOptions {
  /**
   * Offer STARTTLS with this key and certificate (PEM files), as a production client requires;
   * the client must trust their CA (e.g. NODE_EXTRA_CA_CERTS). @default plain, no STARTTLS
   */
  tls?: { keyFile: string; certFile: string };
}

/** A real SMTP server in this process on a free port (no AUTH), recording what it gets. */
export async function startSmtpServer(options: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const refused: number[] = [];
  let attempts = 0;
  let delayMs = 0;
  let verdict: (attempt: number) => Verdict = () => ({ accept: true });
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: options.tls ? ['AUTH'] : ['STARTTLS', 'AUTH'],
    ...(options.tls
      ? { key: readFileSync(options.tls.keyFile), cert: readFileSync(options.tls.certFile) }
      : {}),
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      const answer = () => {
        attempts += 1;
        const decision = verdict(attempts);
        if (!decision.accept) {
          refused.push(decision.code);
          const err = Object.assign(new Error(decision.message), {
            responseCode: decision.code,
          });
          callback(err);
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        received.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          header: (name) => headerOf(raw, name),
        });
        callback();
      };
      stream.on('end', () => {
        if (delayMs > 0) setTimeout(answer, delayMs);
        else answer();
      });
    },
  });
  // A client that dies mid-session (a killed worker) resets its connection: not this server's
  // failure, and unhandled it would end the process.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    received,
    refused,
    judge(next) {
      verdict = next;
    },
    slow(ms) {
      delayMs = ms;
    },
    env: {
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(port),
      SMTP_FROM: 'Plinth <no-reply@plinth.test>',
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
