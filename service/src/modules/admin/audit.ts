import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from '../auth/actor.js';
import { AuditLog } from './audit-log.entity.js';

/** One privileged action on a target; who did it and in which request come from the actor. */
export interface AuditEntry {
  action: string;
  targetType: string;
  targetId: string | number;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
}

/**
 * Records a privileged action by `actor`. Persisted by the caller's next flush, so the entry
 * commits in the same transaction as the change it describes (or not at all).
 */
export function recordAudit(em: EntityManager, actor: Actor, entry: AuditEntry): void {
  em.create(AuditLog, {
    actor: actor.user?.id ?? null,
    action: entry.action,
    targetType: entry.targetType,
    targetId: String(entry.targetId),
    before: entry.before ?? null,
    after: entry.after ?? null,
    requestId: actor.requestId ?? null,
  });
}
