import { route, type RouteDef } from '../../http/routes.js';
import { jsonObject } from '../../json-text.js';
import {
  ListNotificationsQuery,
  MarkAllReadResponse,
  MultipleNotificationsResponse,
  NotificationIdParams,
  NotificationSettingsResponse,
  SingleNotificationResponse,
  UpdateNotificationSettingsRequest,
} from './notifications.schemas.js';

const TAG = 'Notifications';

/** The signed-in user's in-app notifications and notification settings. */
export const notificationsRoutes: RouteDef[] = [
  route({
    method: 'get',
    path: '/notifications',
    operationId: 'GetNotifications',
    summary: 'Your notifications, newest first, with the unread count',
    tag: TAG,
    auth: 'required',
    query: ListNotificationsQuery,
    success: {
      status: 200,
      description: 'A page of notifications',
      schema: MultipleNotificationsResponse,
    },
    handler: async ({ query, services }) => {
      const page = await services.notifications.list(query);
      return jsonObject({
        notifications: page.items,
        notificationsCount: page.count,
        unreadCount: page.unread,
      });
    },
  }),
  route({
    method: 'post',
    path: '/notifications/read',
    operationId: 'MarkAllNotificationsRead',
    summary: 'Mark all your notifications read',
    tag: TAG,
    auth: 'required',
    success: { status: 200, description: 'How many were marked', schema: MarkAllReadResponse },
    handler: async ({ services }) => ({ marked: await services.notifications.markAllRead() }),
  }),
  route({
    method: 'get',
    path: '/notifications/settings',
    operationId: 'GetNotificationSettings',
    summary: 'Your notification settings',
    tag: TAG,
    auth: 'required',
    success: { status: 200, description: 'The settings', schema: NotificationSettingsResponse },
    handler: async ({ services }) => ({ settings: await services.notifications.settings() }),
  }),
  route({
    method: 'put',
    path: '/notifications/settings',
    operationId: 'UpdateNotificationSettings',
    summary: 'Change your notification settings (the daily email digest)',
    tag: TAG,
    auth: 'required',
    body: UpdateNotificationSettingsRequest,
    success: { status: 200, description: 'The settings', schema: NotificationSettingsResponse },
    handler: async ({ body, services }) => ({
      settings: await services.notifications.updateSettings(body.settings),
    }),
  }),
  route({
    method: 'post',
    path: '/notifications/{id}/read',
    operationId: 'MarkNotificationRead',
    summary: 'Mark one of your notifications read (again: no change)',
    tag: TAG,
    auth: 'required',
    params: NotificationIdParams,
    success: { status: 200, description: 'The notification', schema: SingleNotificationResponse },
    errors: [404],
    handler: async ({ params, services }) => ({
      notification: await services.notifications.markRead(params.id),
    }),
  }),
];
