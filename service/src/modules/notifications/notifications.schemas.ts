import { z } from 'zod';
import { pagination } from '../common.schemas.js';

export const NotificationSchema = z
  .object({
    id: z.number().int(),
    /** What happened; one kind today. */
    type: z.literal('article-published'),
    createdAt: z.iso.datetime(),
    readAt: z.iso
      .datetime()
      .nullable()
      .meta({ description: 'When it was marked read; null: unread' }),
    article: z.object({ slug: z.string(), title: z.string() }),
    author: z.object({ username: z.string(), image: z.string() }),
  })
  .meta({ id: 'Notification' });

export type NotificationDto = z.infer<typeof NotificationSchema>;

export const MultipleNotificationsResponse = z
  .object({
    notifications: z.array(NotificationSchema),
    notificationsCount: z.number().int().meta({ description: 'All of the user’s notifications' }),
    unreadCount: z.number().int().meta({ description: 'Those not marked read' }),
  })
  .meta({ id: 'MultipleNotificationsResponse' });

export const SingleNotificationResponse = z
  .object({ notification: NotificationSchema })
  .meta({ id: 'SingleNotificationResponse' });

export const MarkAllReadResponse = z
  .object({ marked: z.number().int().meta({ description: 'Notifications marked read now' }) })
  .meta({ id: 'MarkAllNotificationsReadResponse' });

export const ListNotificationsQuery = z.strictObject({ ...pagination });

export const NotificationIdParams = z.object({
  id: z
    .string()
    .regex(/^\d{1,15}$/, 'must be a positive integer')
    .transform(Number)
    .meta({ param: { schema: { type: 'integer', minimum: 1 } }, description: 'Notification id' }),
});

const settings = z
  .object({
    digest: z.boolean().meta({
      description: 'A daily email digest of unread notifications (08:00 UTC); off by default',
    }),
  })
  .meta({ id: 'NotificationSettings' });

export type NotificationSettingsDto = z.infer<typeof settings>;

export const NotificationSettingsResponse = z
  .object({ settings })
  .meta({ id: 'NotificationSettingsResponse' });

export const UpdateNotificationSettingsRequest = z
  .object({ settings: z.strictObject({ digest: z.boolean() }) })
  .meta({ id: 'UpdateNotificationSettingsRequest' });
