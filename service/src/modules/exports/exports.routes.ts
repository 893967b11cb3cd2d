import { route, type RouteDef } from '../../http/routes.js';
import { DataExportResponse, DataExportsResponse, ExportIdParams } from './exports.schemas.js';

const TAG = 'Data exports';

export const exportsRoutes: RouteDef[] = [
  route({
    method: 'post',
    path: '/user/exports',
    operationId: 'CreateDataExport',
    summary: 'Request an export of your data',
    tag: TAG,
    auth: 'required',
    success: {
      status: 202,
      description:
        'The export, queued (or the one already queued or running: at most one at a time). ' +
        'Poll GET /user/exports/{exportId} for progress and the download link. More than ' +
        'EXPORT_MAX_PER_DAY requests in 24 hours: 429 with Retry-After.',
      schema: DataExportResponse,
    },
    handler: async ({ services }) => ({ export: await services.exports.request() }),
  }),
  route({
    method: 'get',
    path: '/user/exports',
    operationId: 'GetDataExports',
    summary: 'Your data exports, newest first',
    tag: TAG,
    auth: 'required',
    success: { status: 200, description: 'Your exports', schema: DataExportsResponse },
    handler: async ({ services }) => ({ exports: await services.exports.list() }),
  }),
  route({
    method: 'get',
    path: '/user/exports/{exportId}',
    operationId: 'GetDataExport',
    summary: 'One of your data exports: status, progress, and a fresh download link when done',
    tag: TAG,
    auth: 'required',
    params: ExportIdParams,
    success: { status: 200, description: 'The export', schema: DataExportResponse },
    errors: [404],
    handler: async ({ params, services }) => ({
      export: await services.exports.get(params.exportId),
    }),
  }),
];
