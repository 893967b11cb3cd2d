import { AuditLog } from '../modules/admin/audit-log.entity.js';
import { Setting } from '../modules/admin/setting.entity.js';
import { Article, ArticleTag, Favorite } from '../modules/articles/article.entity.js';
import { AvatarUpload } from '../modules/avatars/avatar-upload.entity.js';
import { Comment } from '../modules/comments/comment.entity.js';
import { EmailDelivery } from '../modules/email/email-delivery.entity.js';
import { Outbox } from '../modules/outbox/outbox.entity.js';
import { Follow } from '../modules/profiles/follow.entity.js';
import { Notification, NotificationSetting } from '../modules/notifications/notification.entity.js';
import { Tag } from '../modules/tags/tag.entity.js';
import { User } from '../modules/users/user.entity.js';
import { DataExport } from '../modules/exports/data-export.entity.js';

/** The explicit entity list: no folder scanning, identical in ts (dev/test) and js (dist). */
export const entities = [
  User,
  Follow,
  Tag,
  Article,
  ArticleTag,
  Favorite,
  Comment,
  AuditLog,
  Setting,
  Outbox,
  EmailDelivery,
  Notification,
  NotificationSetting,
  DataExport,
  AvatarUpload,
];
