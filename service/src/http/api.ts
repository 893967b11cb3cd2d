import { adminRoutes } from '../modules/admin/admin.routes.js';
import { avatarsRoutes } from '../modules/avatars/avatars.routes.js';
import { articlesRoutes } from '../modules/articles/articles.routes.js';
import { authRoutes } from '../modules/auth/auth.routes.js';
import { commentsRoutes } from '../modules/comments/comments.routes.js';
import { notificationsRoutes } from '../modules/notifications/notifications.routes.js';
import { exportsRoutes } from '../modules/exports/exports.routes.js';
import { profilesRoutes } from '../modules/profiles/profiles.routes.js';
import { tagsRoutes } from '../modules/tags/tags.routes.js';
import { usersRoutes } from '../modules/users/users.routes.js';
import type { RouteDef } from './routes.js';

export const API_PREFIX = '/api';

/**
 * Every REST operation, in mount order. Route definitions are data (they depend on no setting):
 * the OpenAPI document, the WAF's body-route manifest and the router are all built from this.
 */
export const API_ROUTES: readonly RouteDef[] = [
  ...usersRoutes,
  ...exportsRoutes,
  ...avatarsRoutes,
  ...authRoutes,
  ...profilesRoutes,
  ...articlesRoutes,
  ...commentsRoutes,
  ...tagsRoutes,
  ...adminRoutes,
  ...notificationsRoutes,
];
