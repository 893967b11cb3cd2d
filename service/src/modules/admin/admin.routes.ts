import { z } from 'zod';
import { route, type RouteDef } from '../../http/routes.js';
import { usernameParam } from '../../http/schemas.js';
import { actorOf } from '../../http/state.js';
import {
  AdminUserResponse,
  AdminUsersResponse,
  AuditLogQuery,
  AuditLogResponse,
  ChangeRoleRequest,
  ListUsersQuery,
  MaintenanceSchema,
  QueuesResponse,
} from './admin.schemas.js';
import { AdminService, type AdminDeps } from './admin.service.js';

const TAG = 'Admin';
const username = z.object({ username: usernameParam });

/**
 * The admin API: users and roles, suspension, the audit log, the write freeze. Admins only, and
 * admins are exempt from the write freeze, so no admin route is `freezable`.
 */
export function adminRoutes(deps: AdminDeps): RouteDef[] {
  const admin = (ctx: Parameters<typeof actorOf>[0]) =>
    new AdminService(ctx.state.em, actorOf(ctx), deps);
  return [
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
      handler: ({ query, ctx }) => admin(ctx).listUsers(query),
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
      handler: ({ params, body, ctx }) => admin(ctx).changeRole(params.username, body.user.role),
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
      handler: ({ params, ctx }) => admin(ctx).suspend(params.username),
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
      handler: ({ params, ctx }) => admin(ctx).reactivate(params.username),
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
      handler: ({ query, ctx }) => admin(ctx).auditLog(query),
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
      handler: ({ ctx }) => admin(ctx).queues(),
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
      handler: ({ ctx }) => admin(ctx).maintenance(),
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
      handler: ({ body, ctx }) => admin(ctx).setMaintenance(body.maintenance.writeFreeze),
    }),
  ];
}
