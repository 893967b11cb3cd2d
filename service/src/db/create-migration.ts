/**
 * `npm run migration:create [name]`: generates a migration from the difference between the
 * entities and the committed migrations, in a scratch database, and registers it in index.ts.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { dropDatabase, ensureDatabase } from './admin.js';
import { ormOptions } from './orm.js';

const dir = path.resolve(import.meta.dirname, 'migrations');
const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const url = new URL(base);
url.pathname = `/plinth_migration_${randomBytes(4).toString('hex')}`;
const scratch = url.toString();

await ensureDatabase(scratch);
try {
  const options = ormOptions({
    DATABASE_URL: scratch,
    DATABASE_SSL: 'disable',
    DATABASE_POOL_MAX: 2,
  });
  const orm = await MikroORM.init({
    ...options,
    migrations: { ...options.migrations, path: dir, pathTs: dir, emit: 'ts' },
  });
  try {
    await orm.migrator.up();
    const result = await orm.migrator.create(dir, false, false, process.argv[2]);
    if (!result.fileName) {
      console.log('No changes: entities and migrations agree.');
    } else {
      const className = path.basename(result.fileName, '.ts');
      const indexPath = path.join(dir, 'index.ts');
      const index = await readFile(indexPath, 'utf8');
      const withImport = index.replace(
        /(import type \{ Migration \} from '@mikro-orm\/migrations';\n)/,
        `$1import { ${className} } from './${className}.js';\n`,
      );
      const withEntry = withImport.replace(
        /\] = \[([\s\S]*?)\];/,
        (_m, list: string) =>
          `] = [${list.trimEnd() ? `${list.trimEnd()}\n` : '\n'}  { name: '${className}', class: ${className} },\n];`,
      );
      await writeFile(indexPath, withEntry);
      console.log(`Created ${result.fileName}:\n${result.diff.up.join('\n')}`);
    }
  } finally {
    await orm.close(true);
  }
} finally {
  await dropDatabase(scratch);
}
