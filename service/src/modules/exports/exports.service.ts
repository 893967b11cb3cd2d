import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../../config.js';
import { violatedUniqueConstraint } from '../../db/errors.js';
import { NotFoundError, TooManyRequestsError } from '../../errors.js';
import { BUILD_EXPORT, jobRequest } from '../../jobs/contracts.js';
import type { ObjectStorage } from '../../storage/index.js';
import { asAccount } from '../auth/abilities.js';
import { FeatureService } from '../feature-service.js';
import { DataExport } from './data-export.entity.js';
import type { DataExportDto } from './exports.schemas.js';

export interface ExportsDeps {
  config: Pick<Config, 'EXPORT_LINK_TTL_SECONDS' | 'EXPORT_MAX_PER_DAY'>;
  /** Signs download links of done exports. */
  storage: ObjectStorage;
}

/** Exports listed at most (retention keeps a user's list short anyway). */
const LIST_LIMIT = 50;
const DAY_MS = 24 * 3600 * 1000;
const ONE_IN_FLIGHT = 'data_exports_one_in_flight_unique';

/**
 * A user's data exports (issue 13): requested here, built by the worker's `build-export` job,
 * downloaded through a short-lived signed link. At most one export is in flight per user (a
 * second request returns it) and at most EXPORT_MAX_PER_DAY are requested per 24 hours.
 */
export class ExportsService extends FeatureService<ExportsDeps> {
  /** The export in flight, or a new one queued with its job in the same transaction. */
  async request(): Promise<DataExportDto> {
    const user = this.user;
    // Asking for an export is a write on one's own account (refused during a write freeze).
    this.authorize('update', asAccount({ id: user.id }), 'you may only export your own data');
    try {
      const row = await this.em.transactional(async (em) => {
        const inFlight = await this.inFlight(em, user.id);
        if (inFlight) return inFlight;
        await this.checkQuota(em, user.id);
        const created = em.create(DataExport, {
          id: randomUUID(),
          user: user.id,
          status: 'queued',
        });
        await this.enqueue(em, jobRequest(BUILD_EXPORT, { exportId: created.id }));
        return created;
      });
      return this.toDto(row);
    } catch (err) {
      // Another request of the same user won the race: theirs is the one in flight.
      if (violatedUniqueConstraint(err) !== ONE_IN_FLIGHT) throw err;
      const inFlight = await this.inFlight(this.em.fork(), user.id);
      if (!inFlight) throw err;
      return this.toDto(inFlight);
    }
  }

  /** The user's exports, newest first. */
  async list(): Promise<DataExportDto[]> {
    const rows = await this.em.find(
      DataExport,
      { user: this.user.id },
      { orderBy: { createdAt: 'desc', id: 'desc' }, limit: LIST_LIMIT },
    );
    return Promise.all(rows.map((row) => this.toDto(row)));
  }

  /** One of the user's exports; someone else's is 404, as if it did not exist. */
  async get(id: string): Promise<DataExportDto> {
    const row = await this.em.findOne(DataExport, { id, user: this.user.id });
    if (!row) throw new NotFoundError('export');
    return this.toDto(row);
  }

  private inFlight(em: EntityManager, userId: number) {
    return em.findOne(DataExport, { user: userId, status: { $in: ['queued', 'running'] } });
  }

  /** 429 once the user requested EXPORT_MAX_PER_DAY exports in the last 24 hours. */
  private async checkQuota(em: EntityManager, userId: number): Promise<void> {
    const max = this.deps.config.EXPORT_MAX_PER_DAY;
    const recent = await em.find(
      DataExport,
      { user: userId, createdAt: { $gt: new Date(Date.now() - DAY_MS) } },
      { orderBy: { createdAt: 'desc' }, limit: max, fields: ['createdAt'] },
    );
    if (recent.length < max) return;
    const oldest = recent.at(-1)!.createdAt.getTime();
    throw new TooManyRequestsError(
      Math.max(1, Math.ceil((oldest + DAY_MS - Date.now()) / 1000)),
      max,
    );
  }

  private async toDto(row: DataExport): Promise<DataExportDto> {
    const dto: DataExportDto = {
      id: row.id,
      status: row.status,
      progress: row.progress,
      createdAt: row.createdAt.toISOString(),
      finishedAt: row.finishedAt?.toISOString() ?? null,
      expiresAt: row.expiresAt?.toISOString() ?? null,
      sizeBytes: row.sizeBytes ?? null,
      error: row.error ?? null,
    };
    if (row.status !== 'done' || !row.objectKey || !row.expiresAt) return dto;
    // Never valid past the file's own deletion.
    const seconds = Math.min(
      this.deps.config.EXPORT_LINK_TTL_SECONDS,
      Math.floor((row.expiresAt.getTime() - Date.now()) / 1000),
    );
    if (seconds < 1) return dto;
    const expires = new Date((Math.floor(Date.now() / 1000) + seconds) * 1000);
    const day = row.createdAt.toISOString().slice(0, 10);
    return {
      ...dto,
      downloadUrl: await this.deps.storage.downloadUrl(row.objectKey, {
        expiresInSeconds: seconds,
        filename: `plinth-export-${this.user.username}-${day}.json.gz`,
      }),
      downloadUrlExpiresAt: expires.toISOString(),
    };
  }
}
