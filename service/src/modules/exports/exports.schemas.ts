import { z } from 'zod';
import { EXPORT_STATUSES } from './data-export.entity.js';

export const ExportIdParams = z.strictObject({
  exportId: z.uuid().meta({ description: 'The export’s id (a UUID).' }),
});

export const DataExportSchema = z
  .object({
    id: z.uuid(),
    status: z.enum(EXPORT_STATUSES),
    progress: z.number().int().min(0).max(100),
    createdAt: z.iso.datetime(),
    finishedAt: z.iso.datetime().nullable(),
    /** Set once done: when the file (and this record) are deleted. */
    expiresAt: z.iso.datetime().nullable(),
    sizeBytes: z.number().int().nullable(),
    error: z.string().nullable(),
    downloadUrl: z
      .url()
      .optional()
      .meta({
        description:
          'Only when done: a link that downloads the gzipped JSON file until EXPORT_LINK_TTL_SECONDS ' +
          'from this response (each read gives a fresh link).',
      }),
    downloadUrlExpiresAt: z.iso.datetime().optional(),
  })
  .meta({ id: 'DataExport' });

export const DataExportResponse = z
  .object({ export: DataExportSchema })
  .meta({ id: 'DataExportResponse' });

export const DataExportsResponse = z
  .object({ exports: z.array(DataExportSchema) })
  .meta({ id: 'DataExportsResponse' });

export type DataExportDto = z.infer<typeof DataExportSchema>;
