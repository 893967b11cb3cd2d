import { defineEntity, p } from '@mikro-orm/core';
import { User } from '../users/user.entity.js';

/** One privileged action: who did what to which target, the state before and after, when. */
export const AuditLogSchema = defineEntity({
  name: 'AuditLog',
  tableName: 'audit_log',
  properties: {
    id: p.integer().primary(),
    /** The acting user; kept as null if that user is later deleted. */
    actor: () =>
      p
        .manyToOne(User)
        .nullable()
        .deleteRule('set null')
        .index('audit_log_actor_idx')
        .foreignKeyName('audit_log_actor_id_foreign'),
    action: p.string().length(64),
    targetType: p.string().length(32),
    targetId: p.string().length(64),
    before: p.json<Record<string, unknown>>().nullable(),
    after: p.json<Record<string, unknown>>().nullable(),
    requestId: p.string().length(128).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
  indexes: [
    { name: 'audit_log_created_at_idx', properties: ['createdAt', 'id'] },
    { name: 'audit_log_target_idx', properties: ['targetType', 'targetId'] },
  ],
});

export class AuditLog extends AuditLogSchema.class {}
AuditLogSchema.setClass(AuditLog);
