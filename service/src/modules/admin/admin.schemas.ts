import { z } from 'zod';
import { pagination } from '../common.schemas.js';
import { ROLES } from '../users/user.entity.js';

export const AdminUserSchema = z
  .object({
    id: z.number().int(),
    username: z.string(),
    email: z.string(),
    role: z.enum(ROLES),
    suspended: z.boolean(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'AdminUser' });

export type AdminUser = z.infer<typeof AdminUserSchema>;

export const AdminUserResponse = z
  .object({ user: AdminUserSchema })
  .meta({ id: 'AdminUserResponse' });

export const AdminUsersResponse = z
  .object({ users: z.array(AdminUserSchema), usersCount: z.number().int() })
  .meta({ id: 'AdminUsersResponse' });

export const ListUsersQuery = z.strictObject({
  q: z.string().min(1).max(64).optional().meta({ description: 'Username or email contains' }),
  role: z.enum(ROLES).optional(),
  ...pagination,
});

export const ChangeRoleRequest = z
  .object({ user: z.object({ role: z.enum(ROLES) }) })
  .meta({ id: 'ChangeRoleRequest' });

export const AuditEntrySchema = z
  .object({
    id: z.number().int(),
    actor: z.string().nullable().meta({ description: 'Username of the actor' }),
    action: z.string(),
    targetType: z.string(),
    targetId: z.string(),
    before: z.record(z.string(), z.unknown()).nullable(),
    after: z.record(z.string(), z.unknown()).nullable(),
    requestId: z.string().nullable(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'AuditEntry' });

export type AuditEntryDto = z.infer<typeof AuditEntrySchema>;

export const AuditLogResponse = z
  .object({ entries: z.array(AuditEntrySchema), entriesCount: z.number().int() })
  .meta({ id: 'AuditLogResponse' });

export const AuditLogQuery = z.strictObject({
  action: z.string().min(1).max(64).optional(),
  targetType: z.string().min(1).max(32).optional(),
  targetId: z.string().min(1).max(64).optional(),
  ...pagination,
});

export const MaintenanceSchema = z
  .object({ maintenance: z.object({ writeFreeze: z.boolean() }) })
  .meta({ id: 'Maintenance' });

export const QueuesResponse = z
  .object({
    queues: z.array(
      z.object({
        name: z.string(),
        waiting: z.number().int(),
        active: z.number().int(),
        completed: z.number().int(),
        failed: z.number().int(),
        delayed: z.number().int(),
        paused: z.boolean(),
      }),
    ),
  })
  .meta({ id: 'QueuesResponse' });

export const FailedJobsQuery = z.strictObject({
  queue: z
    .string()
    .regex(/^[a-z0-9-]{1,64}$/, 'must be a queue name')
    .optional()
    .meta({ description: 'Only this queue (email, maintenance); all queues by default' }),
  ...pagination,
});

export const JobParams = z.object({
  queue: z.string().regex(/^[a-z0-9-]{1,64}$/, 'must be a queue name'),
  id: z.string().regex(/^[A-Za-z0-9:_-]{1,128}$/, 'must be a job id'),
});

export const FailedJobSchema = z
  .object({
    id: z.string(),
    queue: z.string(),
    name: z.string(),
    payload: z.unknown(),
    meta: z.record(z.string(), z.string()),
    failedReason: z.string(),
    attemptsMade: z.number().int(),
    attempts: z.number().int(),
    createdAt: z.string(),
    failedAt: z.string().nullable(),
  })
  .meta({ id: 'FailedJob' });

export const FailedJobsResponse = z
  .object({ jobs: z.array(FailedJobSchema), jobsCount: z.number().int() })
  .meta({ id: 'FailedJobsResponse' });

export const RetriedJobResponse = z
  .object({ job: z.object({ id: z.string(), queue: z.string() }) })
  .meta({ id: 'RetriedJobResponse' });
