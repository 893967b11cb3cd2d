import { primarySource } from '../../db/read-source.js';
import { NotFoundError } from '../../errors.js';
import type { JsonText } from '../../json-text.js';
import { asAccount } from '../auth/abilities.js';
import { FeatureService } from '../feature-service.js';
import { listNotifications, markRead } from './notifications.read-model.js';
import type { NotificationDto, NotificationSettingsDto } from './notifications.schemas.js';

/**
 * The signed-in user's in-app notifications (written by the worker's fan-out) and their
 * notification settings. Everything is the acting user's own: another user's notification is a
 * 404, never a 403. Reads run on the primary: a list right after "mark read" must show it read.
 */
export class NotificationsService extends FeatureService {
  async list(page: {
    limit: number;
    offset: number;
  }): Promise<{ items: JsonText<NotificationDto[]>; count: number; unread: number }> {
    return listNotifications(primarySource(this.em), this.user.id, page);
  }

  async markRead(id: number): Promise<NotificationDto> {
    const user = this.ownAccount();
    const marked = await markRead(primarySource(this.em), user.id, id);
    if (!marked) throw new NotFoundError('notification');
    return marked;
  }

  /** Marks every unread notification the list shows read; returns how many were. */
  async markAllRead(): Promise<number> {
    const user = this.ownAccount();
    const result = await this.em.execute<{ affectedRows: number }>(
      `update notifications n set read_at = now() from articles a
       where n.user_id = ? and n.read_at is null and a.id = n.article_id and a.status = 'published'`,
      [user.id],
      'run',
    );
    return result.affectedRows;
  }

  async settings(): Promise<NotificationSettingsDto> {
    const [row] = await this.em.execute<{ digest: boolean }[]>(
      'select digest from notification_settings where user_id = ?',
      [this.user.id],
    );
    return { digest: row?.digest ?? false };
  }

  async updateSettings(changes: NotificationSettingsDto): Promise<NotificationSettingsDto> {
    const user = this.ownAccount();
    await this.em.execute(
      `insert into notification_settings (user_id, digest, updated_at) values (?, ?, now())
       on conflict (user_id) do update set digest = excluded.digest, updated_at = now()`,
      [user.id, changes.digest],
      'run',
    );
    return { digest: changes.digest };
  }

  /** The acting user, allowed to change their own account (503 during the write freeze). */
  private ownAccount() {
    const user = this.user;
    this.authorize('update', asAccount({ id: user.id }));
    return user;
  }
}
