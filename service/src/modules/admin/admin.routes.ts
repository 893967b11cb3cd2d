import { z } from 'zod';
import { route, type RouteDef } from '../../http/routes.js';
import { usernameParam } from '../common.schemas.js';
import {
  AdminUserResponse,
  AdminUsersResponse,
  AuditLogQuery,
  AuditLogResponse,
  ChangeRoleRequest,
  FailedJobsQuery,
  FailedJobsResponse,
  JobParams,
  RetriedJobResponse,
  ListUsersQuery,
  MaintenanceSchema,
  QueuesResponse,
} from './admin.schemas.js';

const TAG = 'Admin';
const username = z.object({ username: usernameParam });

/**
 * The admin API: users and roles, suspension, the audit log, the write freeze. Admins only, and
 * admins are exempt from the write freeze, so no admin route is `freezable`.
 */
export const adminRoutes: RouteDef[] = [
  route({
    method: 'get',
    path: '/admin/users',
    operationId: 'AdminListUsers',
    summary: 'List and search users',
    tag: TAG,
    auth: 'required',
    query: ListUsersQuery,
    success: { status: 200, description: 'A page of users', schema: AdminUsersResponse },
    errors: [403],
    handler: async ({ query, services }) => {
      const page = await services.admin.listUsers(query);
      return { users: page.items, usersCount: page.count };
    },
  }),
  route({
    method: 'put',
    path: '/admin/users/{username}/role',
    operationId: 'AdminChangeRole',
    summary: "Change a user's role",
    tag: TAG,
    auth: 'required',
    params: username,
    body: ChangeRoleRequest,
    success: { status: 200, description: 'The user', schema: AdminUserResponse },
    errors: [403, 404],
    freezable: false,
    handler: async ({ params, body, services }) => ({
      user: await services.admin.changeRole(params.username, body.user.role),
    }),
  }),
  route({
    method: 'post',
    path: '/admin/users/{username}/suspension',
    operationId: 'AdminSuspendUser',
    summary: 'Suspend a user: login refused, sessions and tokens revoked at once',
    tag: TAG,
    auth: 'required',
    params: username,
    success: { status: 200, description: 'The user', schema: AdminUserResponse },
    errors: [403, 404],
    freezable: false,
    handler: async ({ params, services }) => ({
      user: await services.admin.suspend(params.username),
    }),
  }),
  route({
    method: 'delete',
    path: '/admin/users/{username}/suspension',
    operationId: 'AdminReactivateUser',
    summary: 'Reactivate a suspended user',
    tag: TAG,
    auth: 'required',
    params: username,
    success: { status: 200, description: 'The user', schema: AdminUserResponse },
    errors: [403, 404],
    freezable: false,
    handler: async ({ params, services }) => ({
      user: await services.admin.reactivate(params.username),
    }),
  }),
  route({
    method: 'get',
    path: '/admin/audit-log',
    operationId: 'AdminAuditLog',
    summary: 'Privileged actions, newest first',
    tag: TAG,
    auth: 'required',
    query: AuditLogQuery,
    success: { status: 200, description: 'Audit entries', schema: AuditLogResponse },
    errors: [403],
    handler: async ({ query, services }) => {
      const page = await services.admin.auditLog(query);
      return { entries: page.items, entriesCount: page.count };
    },
  }),
  route({
    method: 'get',
    path: '/admin/queues',
    operationId: 'AdminQueues',
    summary: 'Job counts per queue (waiting, active, delayed, failed, completed)',
    tag: TAG,
    auth: 'required',
    success: { status: 200, description: 'Queues', schema: QueuesResponse },
    errors: [403],
    handler: async ({ services }) => ({ queues: await services.admin.queues() }),
  }),
  route({
    method: 'get',
    path: '/admin/jobs/failed',
    operationId: 'AdminFailedJobs',
    summary: "Dead letters: a queue's jobs that failed for good, newest first",
    tag: TAG,
    auth: 'required',
    query: FailedJobsQuery,
    success: { status: 200, description: 'Failed jobs', schema: FailedJobsResponse },
    errors: [403, 404],
    handler: async ({ query, services }) => {
      const page = await services.admin.failedJobs(query);
      return { jobs: page.items, jobsCount: page.count };
    },
  }),
  route({
    method: 'post',
    path: '/admin/jobs/{queue}/{id}/retry',
    operationId: 'AdminRetryJob',
    summary: 'Re-queue a failed job (same id and data)',
    tag: TAG,
    auth: 'required',
    params: JobParams,
    success: { status: 200, description: 'The re-queued job', schema: RetriedJobResponse },
    errors: [403, 404],
    freezable: false,
    handler: async ({ params, services }) => ({
      job: await services.admin.retryJob(params.queue, params.id),
    }),
  }),
  route({
    method: 'get',
    path: '/admin/maintenance',
    operationId: 'AdminGetMaintenance',
    summary: 'The maintenance write-freeze switch',
    tag: TAG,
    auth: 'required',
    success: { status: 200, description: 'The switch', schema: MaintenanceSchema },
    errors: [403],
    handler: async ({ services }) => ({ maintenance: await services.admin.maintenance() }),
  }),
  route({
    method: 'put',
    path: '/admin/maintenance',
    operationId: 'AdminSetMaintenance',
    summary: 'Freeze or unfreeze writes (503 for everyone but admins while frozen)',
    tag: TAG,
    auth: 'required',
    body: MaintenanceSchema,
    success: { status: 200, description: 'The switch', schema: MaintenanceSchema },
    errors: [403],
    // Admins are exempt from the freeze (they lift it); everyone else is refused with 403.
    freezable: false,
    handler: async ({ body, services }) => ({
      maintenance: await services.admin.setMaintenance(body.maintenance.writeFreeze),
    }),
  }),
];
