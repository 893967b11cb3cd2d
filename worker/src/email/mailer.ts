import nodemailer from 'nodemailer';
import type { Config } from '../../../service/src/config.js';
import type { Logger } from '../../../service/src/logger.js';

/** One message: the Message-ID is chosen by the job, so a resend carries the same one. */
export interface Mail {
  messageId: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  /** The domain of SMTP_FROM: the right-hand side of every Message-ID. */
  readonly domain: string;
  /** Whether messages really leave (SMTP_HOST set); otherwise they are logged only. */
  readonly enabled: boolean;
  /** Resolves once the SMTP server accepted the message; rejects with its error otherwise. */
  send(mail: Mail): Promise<void>;
  close(): void;
}

/** The SMTP reply code of a nodemailer error, when the server gave one. */
export function smtpResponseCode(err: unknown): number | undefined {
  const code = (err as { responseCode?: unknown }).responseCode;
  return typeof code === 'number' ? code : undefined;
}

type MailConfig = Pick<
  Config,
  'SMTP_HOST' | 'SMTP_PORT' | 'SMTP_USER' | 'SMTP_PASSWORD' | 'SMTP_FROM' | 'NODE_ENV'
>;

/**
 * nodemailer over SMTP (SES's SMTP interface in AWS): pooled connections, TLS from the start on
 * port 465 and STARTTLS required elsewhere in production. Without SMTP_HOST the mailer renders
 * and logs each message without sending it (local development).
 */
export function createMailer(config: MailConfig, logger: Logger): Mailer {
  const domain = /@([^>\s]+)>?\s*$/.exec(config.SMTP_FROM)?.[1] ?? 'plinth.local';
  if (!config.SMTP_HOST) {
    return {
      domain,
      enabled: false,
      async send(mail) {
        logger.info(
          { messageId: mail.messageId, subject: mail.subject },
          'email not sent: SMTP_HOST is not set',
        );
      },
      close() {},
    };
  }
  const port = config.SMTP_PORT ?? 587;
  const transport = nodemailer.createTransport({
    host: config.SMTP_HOST,
    port,
    secure: port === 465,
    requireTLS: config.NODE_ENV === 'production' && port !== 465,
    pool: true,
    maxConnections: 2,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    ...(config.SMTP_USER && config.SMTP_PASSWORD
      ? { auth: { user: config.SMTP_USER, pass: config.SMTP_PASSWORD } }
      : {}),
  });
  return {
    domain,
    enabled: true,
    async send(mail) {
      await transport.sendMail({
        from: config.SMTP_FROM,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: mail.messageId,
      });
    },
    close() {
      transport.close();
    },
  };
}
