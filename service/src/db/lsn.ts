/**
 * PostgreSQL write-ahead log positions (`pg_lsn`, printed as `16/B374D848`): where a commit ends
 * on the primary and how far a replica has replayed. Comparing them decides read-your-writes
 * (docs/read-replicas.md).
 */

const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/**
 * An LSN as a fixed-width 16-digit upper-case hex string, so plain string order (`<`, `>=`, also
 * in a Redis Lua script) is WAL order.
 */
export type SortableLsn = string & { readonly __sortableLsn: unique symbol };

/** `16/B374D848` → `00000016B374D848`; throws for anything that is not an LSN. */
export function sortableLsn(lsn: string): SortableLsn {
  const match = LSN.exec(lsn);
  if (!match) throw new Error(`not a PostgreSQL LSN: "${lsn}"`);
  return (match[1]!.padStart(8, '0') + match[2]!.padStart(8, '0')).toUpperCase() as SortableLsn;
}

/** Back to PostgreSQL's notation (`16/B374D848`), for logs and `ReadSource.replayLsn`. */
export function printedLsn(lsn: SortableLsn): string {
  const part = (hex: string) => hex.replace(/^0+(?=.)/, '');
  return `${part(lsn.slice(0, 8))}/${part(lsn.slice(8))}`;
}
