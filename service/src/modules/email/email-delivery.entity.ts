import { defineEntity, p } from '@mikro-orm/core';

/**
 * One email the SMTP server accepted, by its Message-ID: an email job that runs again (retry,
 * stalled worker) finds its record and sends nothing. Recorded after the send, so a crash in
 * between sends the same message again (at-least-once, same Message-ID).
 */
export const EmailDeliverySchema = defineEntity({
  name: 'EmailDelivery',
  tableName: 'email_deliveries',
  properties: {
    messageId: p.string().length(255).primary(),
    /** The job type that sent it (`welcome-email`, `comment-email`). */
    kind: p.string().length(64),
    recipient: p.string().length(255),
    sentAt: p.datetime().onCreate(() => new Date()),
  },
});

export class EmailDelivery extends EmailDeliverySchema.class {}
EmailDeliverySchema.setClass(EmailDelivery);
