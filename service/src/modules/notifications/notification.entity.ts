import { defineEntity, p } from '@mikro-orm/core';
import { Article } from '../articles/article.entity.js';
import { User } from '../users/user.entity.js';

/**
 * An in-app notification: `article` was published by someone `user` follows. Written by the
 * worker's fan-out (batched `INSERT … SELECT … ON CONFLICT DO NOTHING`); the unique
 * (article, user) key makes a batch that runs twice add nothing. Goes with its article or user.
 */
export const NotificationSchema = defineEntity({
  name: 'Notification',
  tableName: 'notifications',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    /** The recipient. */
    user: () =>
      p.manyToOne(User).deleteRule('cascade').foreignKeyName('notifications_user_id_foreign'),
    article: () =>
      p.manyToOne(Article).deleteRule('cascade').foreignKeyName('notifications_article_id_foreign'),
    createdAt: p.datetime().onCreate(() => new Date()),
    /** When the recipient marked it read; null while unread. */
    readAt: p.datetime().nullable(),
  },
  uniques: [{ name: 'notifications_article_user_unique', properties: ['article', 'user'] }],
  indexes: [
    // The recipient's list, newest first, and its counts.
    { name: 'notifications_user_id_idx', properties: ['user', 'id'] },
    // Unread counts and the digest's "unread since" look-up, without the read ones.
    {
      name: 'notifications_user_unread_idx',
      properties: ['user', 'createdAt'],
      where: 'read_at is null',
    },
  ],
});

export class Notification extends NotificationSchema.class {}
NotificationSchema.setClass(Notification);

/**
 * A user's notification preferences (a row only once they changed one; no row = defaults) and the
 * digest's bookkeeping.
 */
export const NotificationSettingSchema = defineEntity({
  name: 'NotificationSetting',
  tableName: 'notification_settings',
  properties: {
    user: () =>
      p
        .manyToOne(User)
        .primary()
        .deleteRule('cascade')
        .foreignKeyName('notification_settings_user_id_foreign'),
    /** Opted in to the daily email digest of unread notifications. */
    digest: p.boolean().default(false),
    /** Notifications up to this time were in a digest already; null: none sent yet. */
    digestedUntil: p.datetime().nullable(),
    /** The UTC day the last digest was scheduled for (one per user per day). */
    digestDay: p.string().length(10).nullable(),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});

export class NotificationSetting extends NotificationSettingSchema.class {}
NotificationSettingSchema.setClass(NotificationSetting);
