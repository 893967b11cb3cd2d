import type { EntityManager } from '@mikro-orm/postgresql';
import { Setting } from './setting.entity.js';

const KEY = 'writeFreeze';

/**
 * The maintenance write freeze, stored in the database so every task agrees and it survives
 * restarts. Each process caches it for `cacheMs`, so a change reaches all tasks within that time.
 */
export class Maintenance {
  private cached: { value: boolean; at: number } | undefined;
  /** The read under way when the cached value expired: concurrent requests share its answer. */
  private reading: Promise<boolean> | undefined;

  constructor(private readonly cacheMs = 2000) {}

  async writeFreeze(em: EntityManager): Promise<boolean> {
    if (this.cached && Date.now() - this.cached.at < this.cacheMs) return this.cached.value;
    const shared = this.reading;
    if (!shared) {
      this.reading = this.read(em).finally(() => (this.reading = undefined));
      return this.reading;
    }
    // Another request's read failed (its connection, or its transaction): that is no reason for
    // this request to fail; it reads on its own unit of work.
    return shared.catch(() => this.read(em));
  }

  private async read(em: EntityManager): Promise<boolean> {
    const row = await em.findOne(Setting, { key: KEY });
    this.cached = { value: row?.value === true, at: Date.now() };
    return this.cached.value;
  }

  /** Stores the switch (in the caller's transaction) and updates this process at once. */
  async setWriteFreeze(em: EntityManager, value: boolean): Promise<void> {
    await em.upsert(Setting, { key: KEY, value, updatedAt: new Date() });
    this.cached = { value, at: Date.now() };
  }
}
