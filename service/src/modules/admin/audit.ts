import type { EntityManager } from '@mikro-orm/postgresql';
import { AuditLog } from './audit-log.entity.js';

export interface AuditEntry {
  actorId: number | undefined;
  action: string;
  targetType: string;
  targetId: string | number;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  requestId: string | undefined;
}

/**
 * Records a privileged action. Persisted by the caller's next flush, so the entry commits in the
 * same transaction as the change it describes (or not at all).
 */
export function recordAudit(em: EntityManager, entry: AuditEntry): void {
  em.create(AuditLog, {
    actor: entry.actorId ?? null,
    action: entry.action,
    targetType: entry.targetType,
    targetId: String(entry.targetId),
    before: entry.before ?? null,
    after: entry.after ?? null,
    requestId: entry.requestId ?? null,
  });
}
