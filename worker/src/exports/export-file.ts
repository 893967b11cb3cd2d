import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ExportSection } from './sections.js';

/** The file's format; a reader checks it before anything else. */
export const EXPORT_FORMAT = 'plinth-export/1';

/** Text in, gzip out, collected in memory (the compressed file is what storage.put takes). */
class GzipBuffer {
  private readonly gzip = createGzip();
  private readonly chunks: Buffer[] = [];
  private readonly ended: Promise<void>;

  constructor() {
    this.gzip.on('data', (chunk: Buffer) => this.chunks.push(chunk));
    this.ended = finished(this.gzip);
  }

  async write(text: string): Promise<void> {
    if (!this.gzip.write(text)) await once(this.gzip, 'drain');
  }

  async end(): Promise<Buffer> {
    this.gzip.end();
    await this.ended;
    return Buffer.concat(this.chunks);
  }
}

export interface ExportFileOptions {
  em: EntityManager;
  exportId: string;
  userId: number;
  sections: readonly ExportSection[];
  pageSize: number;
  /** Called after every page with the progress so far (0–99; 100 is the caller's, once stored). */
  onPage: (progress: number) => Promise<void>;
}

/**
 * Builds a user's export: one JSON object (`format`, `exportId`, `generatedAt`, then one member
 * per section), gzipped as it is written. Rows are read a page at a time; only the compressed
 * output is held.
 */
export async function buildExportFile(
  options: ExportFileOptions,
): Promise<{ body: Buffer; rows: number }> {
  const { em, userId, sections, pageSize } = options;
  const counts = await Promise.all(sections.map((s) => s.count(em, userId)));
  const total = Math.max(
    1,
    counts.reduce((a, b) => a + b, 0),
  );
  const out = new GzipBuffer();
  await out.write(
    `{"format":${JSON.stringify(EXPORT_FORMAT)},"exportId":${JSON.stringify(options.exportId)},` +
      `"generatedAt":${JSON.stringify(new Date().toISOString())}`,
  );
  let rows = 0;
  for (const section of sections) {
    await out.write(`,\n${JSON.stringify(section.name)}:${section.shape === 'list' ? '[' : ''}`);
    let cursor = 0;
    let first = true;
    for (;;) {
      const page = await section.page(em, userId, cursor, pageSize);
      for (const row of page.rows) {
        if (section.shape === 'object' && !first) break;
        await out.write(`${first ? '\n' : ',\n'}${JSON.stringify(row)}`);
        first = false;
        rows += 1;
      }
      await options.onPage(Math.min(99, Math.floor((rows * 100) / total)));
      if (section.shape === 'object' || page.rows.length < pageSize) break;
      cursor = page.next;
    }
    if (section.shape === 'object' && first) await out.write('null');
    if (section.shape === 'list') await out.write('\n]');
  }
  await out.write('}\n');
  return { body: await out.end(), rows };
}
