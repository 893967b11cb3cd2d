import type { MikroORM } from '@mikro-orm/postgresql';

/**
 * Takes `lock table <table> in <mode> mode` in a transaction of its own and holds it until
 * release(), so a query (or a job) that needs the table provably keeps waiting meanwhile.
 */
export async function holdTableLock(
  orm: MikroORM,
  statement: 'lock table tags in share mode' | 'lock table tags in access exclusive mode',
): Promise<{ release: () => Promise<void> }> {
  let release!: () => void;
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const held = orm.em.fork().transactional(async (em) => {
    await em.execute(statement);
    locked();
    await new Promise<void>((resolve) => (release = resolve));
  });
  await isLocked;
  return {
    release: async () => {
      release();
      await held;
    },
  };
}
