import { NO_LINKS } from '@kuvasz/core';
import type { SourceRelation } from '../change.js';
import type { TableType } from '../target/target-ddl.js';
import type { TargetInfo } from '../target/target-meta.js';

/** A target without a database, for the planner's unit tests. */
export function fakeTarget(
  type: TableType,
  cols: [string, string, boolean?][],
  sid = true,
): TargetInfo {
  const columns = new Map(
    cols.map(([name, t, eq]) => [
      name,
      { name, type: t, typeOid: 0, eq: eq ?? true, generated: false, identityAlways: false },
    ]),
  );
  const sidCol = {
    name: 'sid',
    type: 'text',
    typeOid: 25,
    eq: true,
    generated: false,
    identityAlways: false,
  };
  if (sid) columns.set('sid', sidCol);
  return {
    ref: { schema: 'public', table: 't' },
    qualified: '"public"."t"',
    display: 'public.t',
    type,
    columns,
    sid: sid ? sidCol : undefined,
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
