import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFoundError, ValidationError } from '../../errors.js';
import { revokeAll } from '../auth/auth.routes.js';
import type { Actor } from '../../http/state.js';
import { authorize } from '../auth/abilities.js';
import type { Sessions } from '../auth/sessions.js';
import { User, type Role } from '../users/user.entity.js';
import { AuditLog } from './audit-log.entity.js';
import { recordAudit } from './audit.js';
import type { Maintenance } from './maintenance.js';
import type { QueueCounts } from '../../jobs/queue.js';

export interface AdminDeps {
  sessions: Sessions;
  maintenance: Maintenance;
  /** Job counts of every queue (503 while Redis cannot answer). */
  queueCounts: () => Promise<QueueCounts[]>;
}

const toAdminUser = (u: User) => ({
  id: u.id,
  username: u.username,
  email: u.email,
  role: u.role as Role,
  suspended: u.suspendedAt !== null && u.suspendedAt !== undefined,
  createdAt: u.createdAt.toISOString(),
});

/** User administration, the audit log and the write freeze; every change is audited. */
export class AdminService {
  constructor(
    private readonly em: EntityManager,
    private readonly actor: Actor,
    private readonly deps: AdminDeps,
  ) {
    authorize(actor.ability, 'manage', 'Admin', 'only admins may do this');
  }

  private audit(em: EntityManager, action: string, target: User, before: object, after: object) {
    recordAudit(em, {
      actorId: this.actor.user?.id,
      action,
      targetType: 'user',
      targetId: target.id,
      before: before as Record<string, unknown>,
      after: after as Record<string, unknown>,
      requestId: this.actor.requestId,
    });
  }

  async listUsers(query: { q?: string; role?: Role; limit: number; offset: number }) {
    const where = {
      ...(query.role ? { role: query.role } : {}),
      ...(query.q
        ? {
            $or: [
              { username: { $ilike: `%${escapeLike(query.q)}%` } },
              { email: { $ilike: `%${escapeLike(query.q.toLowerCase())}%` } },
            ],
          }
        : {}),
    };
    const [users, usersCount] = await this.em.findAndCount(User, where, {
      orderBy: { id: 'asc' },
      limit: query.limit,
      offset: query.offset,
    });
    return { users: users.map(toAdminUser), usersCount };
  }

  private async byUsername(em: EntityManager, username: string): Promise<User> {
    const user = await em.findOne(User, { username });
    if (!user) throw new NotFoundError('user');
    return user;
  }

  async changeRole(username: string, role: Role) {
    return this.em.transactional(async (em) => {
      const user = await this.byUsername(em, username);
      if (user.id === this.actor.user?.id) {
        throw new ValidationError({ role: ['admins cannot change their own role'] });
      }
      const before = { role: user.role };
      user.role = role;
      this.audit(em, 'user.role', user, before, { role });
      await em.flush();
      return { user: toAdminUser(user) };
    });
  }

  /** Suspends: no more logins, and every existing session and token stops working at once. */
  async suspend(username: string) {
    const user = await this.em.transactional(async (em) => {
      const target = await this.byUsername(em, username);
      if (target.id === this.actor.user?.id) {
        throw new ValidationError({ user: ['admins cannot suspend themselves'] });
      }
      if (!target.suspendedAt) {
        target.suspendedAt = new Date();
        this.audit(em, 'user.suspend', target, { suspended: false }, { suspended: true });
      }
      await em.flush();
      return target;
    });
    await revokeAll(this.em, this.deps.sessions, user);
    return { user: toAdminUser(user) };
  }

  async reactivate(username: string) {
    return this.em.transactional(async (em) => {
      const user = await this.byUsername(em, username);
      if (user.suspendedAt) {
        user.suspendedAt = null;
        this.audit(em, 'user.reactivate', user, { suspended: true }, { suspended: false });
      }
      await em.flush();
      return { user: toAdminUser(user) };
    });
  }

  async auditLog(query: {
    action?: string;
    targetType?: string;
    targetId?: string;
    limit: number;
    offset: number;
  }) {
    const where = {
      ...(query.action ? { action: query.action } : {}),
      ...(query.targetType ? { targetType: query.targetType } : {}),
      ...(query.targetId ? { targetId: query.targetId } : {}),
    };
    const [entries, entriesCount] = await this.em.findAndCount(AuditLog, where, {
      populate: ['actor'],
      orderBy: { createdAt: 'desc', id: 'desc' },
      limit: query.limit,
      offset: query.offset,
    });
    return {
      entries: entries.map((e) => ({
        id: e.id,
        actor: e.actor?.username ?? null,
        action: e.action,
        targetType: e.targetType,
        targetId: e.targetId,
        before: e.before ?? null,
        after: e.after ?? null,
        requestId: e.requestId ?? null,
        createdAt: e.createdAt.toISOString(),
      })),
      entriesCount,
    };
  }

  /** Job counts per queue, read from Redis. */
  async queues() {
    return { queues: await this.deps.queueCounts() };
  }

  async maintenance() {
    return { maintenance: { writeFreeze: await this.deps.maintenance.writeFreeze(this.em) } };
  }

  async setMaintenance(writeFreeze: boolean) {
    await this.em.transactional(async (em) => {
      const before = await this.deps.maintenance.writeFreeze(em);
      await this.deps.maintenance.setWriteFreeze(em, writeFreeze);
      recordAudit(em, {
        actorId: this.actor.user?.id,
        action: 'maintenance.writeFreeze',
        targetType: 'setting',
        targetId: 'writeFreeze',
        before: { writeFreeze: before },
        after: { writeFreeze },
        requestId: this.actor.requestId,
      });
      await em.flush();
    });
    return { maintenance: { writeFreeze } };
  }
}

/** Escapes LIKE wildcards so a search for `50%` means the characters, not a pattern. */
function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}
