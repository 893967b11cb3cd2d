import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFoundError, ValidationError } from '../../errors.js';
import type { FailedJob, QueueCounts, QueueOperations } from '../../jobs/queue.js';
import type { SessionsService } from '../auth/sessions.service.js';
import { FeatureService, type Page, type ServiceFactory } from '../feature-service.js';
import { User, type Role } from '../users/user.entity.js';
import type { AdminUser, AuditEntryDto } from './admin.schemas.js';
import { AuditLog } from './audit-log.entity.js';
import type { Maintenance } from './maintenance.js';

export interface AdminDeps {
  /** Suspension revokes the user's sessions and tokens. */
  sessions: ServiceFactory<SessionsService>;
  maintenance: Maintenance;
  /** Job counts, dead letters, re-queueing (503 while Redis cannot answer). */
  queues: QueueOperations;
}

const toAdminUser = (u: User): AdminUser => ({
  id: u.id,
  username: u.username,
  email: u.email,
  role: u.role as Role,
  suspended: u.suspendedAt !== null && u.suspendedAt !== undefined,
  createdAt: u.createdAt.toISOString(),
});

/**
 * User administration, the audit log and the write freeze; admins only, and every change is
 * audited.
 */
export class AdminService extends FeatureService<AdminDeps> {
  private authorizeAdmin(): void {
    this.authorize('manage', 'Admin', 'only admins may do this');
  }

  private auditUser(
    em: EntityManager,
    action: string,
    target: User,
    before: object,
    after: object,
  ) {
    this.audit(em, {
      action,
      targetType: 'user',
      targetId: target.id,
      before: before as Record<string, unknown>,
      after: after as Record<string, unknown>,
    });
  }

  async listUsers(query: {
    q?: string;
    role?: Role;
    limit: number;
    offset: number;
  }): Promise<Page<AdminUser>> {
    this.authorizeAdmin();
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
    return { items: users.map(toAdminUser), count: usersCount };
  }

  private async byUsername(em: EntityManager, username: string): Promise<User> {
    const user = await em.findOne(User, { username });
    if (!user) throw new NotFoundError('user');
    return user;
  }

  async changeRole(username: string, role: Role): Promise<AdminUser> {
    this.authorizeAdmin();
    return this.em.transactional(async (em) => {
      const user = await this.byUsername(em, username);
      if (user.id === this.actor.user?.id) {
        throw new ValidationError({ role: ['admins cannot change their own role'] });
      }
      const before = { role: user.role };
      user.role = role;
      this.auditUser(em, 'user.role', user, before, { role });
      await em.flush();
      return toAdminUser(user);
    });
  }

  /** Suspends: no more logins, and every existing session and token stops working at once. */
  async suspend(username: string): Promise<AdminUser> {
    this.authorizeAdmin();
    const user = await this.em.transactional(async (em) => {
      const target = await this.byUsername(em, username);
      if (target.id === this.actor.user?.id) {
        throw new ValidationError({ user: ['admins cannot suspend themselves'] });
      }
      if (!target.suspendedAt) {
        target.suspendedAt = new Date();
        this.auditUser(em, 'user.suspend', target, { suspended: false }, { suspended: true });
      }
      await em.flush();
      return target;
    });
    await this.deps.sessions(this.em, this.actor).revokeAll(user);
    return toAdminUser(user);
  }

  async reactivate(username: string): Promise<AdminUser> {
    this.authorizeAdmin();
    return this.em.transactional(async (em) => {
      const user = await this.byUsername(em, username);
      if (user.suspendedAt) {
        user.suspendedAt = null;
        this.auditUser(em, 'user.reactivate', user, { suspended: true }, { suspended: false });
      }
      await em.flush();
      return toAdminUser(user);
    });
  }

  async auditLog(query: {
    action?: string;
    targetType?: string;
    targetId?: string;
    limit: number;
    offset: number;
  }): Promise<Page<AuditEntryDto>> {
    this.authorizeAdmin();
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
      items: entries.map((e) => ({
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
      count: entriesCount,
    };
  }

  /** Job counts per queue, read from Redis. */
  async queues(): Promise<QueueCounts[]> {
    this.authorizeAdmin();
    return this.deps.queues.counts();
  }

  /** Dead letters: a queue's jobs that failed for good, newest first. */
  async failedJobs(query: {
    queue?: string | undefined;
    limit: number;
    offset: number;
  }): Promise<Page<FailedJob>> {
    this.authorizeAdmin();
    const page = await this.deps.queues.failed(query.queue, query);
    if (!page) throw new NotFoundError('queue');
    return page;
  }

  /** Re-queues a failed job (same id and data, back to waiting); audited. */
  async retryJob(queue: string, id: string): Promise<{ id: string; queue: string }> {
    this.authorizeAdmin();
    if (!(await this.deps.queues.retry(queue, id))) throw new NotFoundError('failed job');
    await this.em.transactional(async (em) => {
      this.audit(em, { action: 'job.retry', targetType: 'job', targetId: `${queue}:${id}` });
    });
    return { id, queue };
  }

  async maintenance(): Promise<{ writeFreeze: boolean }> {
    this.authorizeAdmin();
    return { writeFreeze: await this.deps.maintenance.writeFreeze(this.em) };
  }

  async setMaintenance(writeFreeze: boolean): Promise<{ writeFreeze: boolean }> {
    this.authorizeAdmin();
    await this.em.transactional(async (em) => {
      const before = await this.deps.maintenance.writeFreeze(em);
      await this.deps.maintenance.setWriteFreeze(em, writeFreeze);
      this.audit(em, {
        action: 'maintenance.writeFreeze',
        targetType: 'setting',
        targetId: 'writeFreeze',
        before: { writeFreeze: before },
        after: { writeFreeze },
      });
      await em.flush();
    });
    return { writeFreeze };
  }
}

/** Escapes LIKE wildcards so a search for `50%` means the characters, not a pattern. */
function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}
