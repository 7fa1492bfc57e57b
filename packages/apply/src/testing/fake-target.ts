import { NO_LINKS } from '@kuvasz/core';
import type { SourceRelation } from '../change.js';
import type { TableType } from '../target/target-ddl.js';
import type { TargetInfo } from '../target/target-meta.js';

/**
 * A target without a database, for the planner's unit tests: per column its
 * name, type, whether `=` compares it, and its type OID (default 0). `sid`:
 * whether it has a sid column, or that column's type OID (default text).
 */
export function fakeTarget(
  type: TableType,
  cols: [string, string, boolean?, number?][],
  sid: boolean | number = true,
): TargetInfo {
  const columns = new Map(
    cols.map(([name, t, eq, typeOid]) => [
      name,
      {
        name,
        type: t,
        typeOid: typeOid ?? 0,
        eq: eq ?? true,
        generated: false,
        identityAlways: false,
      },
    ]),
  );
  const sidCol = {
    name: 'sid',
    type: 'text',
    typeOid: typeof sid === 'number' ? sid : 25,
    eq: true,
    generated: false,
    identityAlways: false,
  };
  if (sid !== false) columns.set('sid', sidCol);
  return {
    ref: { schema: 'public', table: 't' },
    qualified: '"public"."t"',
    display: 'public.t',
    type,
    columns,
    sid: sid !== false ? sidCol : undefined,
    primaryKey: ['id'],
    uniqueKeys: [],
    indexes: [],
    links: NO_LINKS,
    description: {} as TargetInfo['description'],
  };
}

/** Source table `public.<table>` with REPLICA IDENTITY DEFAULT: [name, type OID, key?] per column. */
export function fakeRelation(cols: [string, number, boolean][], table = 't'): SourceRelation {
  return {
    schema: 'public',
    table,
    replicaIdentity: 'default',
    columns: cols.map(([name, typeOid, isKey]) => ({ name, typeOid, isKey })),
  };
}
