import { displayName, NO_LINKS, qualifiedName, type TableLinks } from '@kuvasz/core';
import {
  describeTable,
  type Queryable,
  type TableDescription,
  type TableRef,
} from './describe-table.js';
import { OPEN_END, type TableType } from './target-ddl.js';
import { loadEqualityByType } from './type-equality.js';

export interface TargetColumn {
  name: string;
  /** format_type() text, used for casts. */
  type: string;
  typeOid: number;
  /** Has a btree equality; otherwise compared through `::text`. */
  eq: boolean;
  generated: boolean;
  identityAlways: boolean;
}

/** A target table as the engine uses it, loaded once by `start()`. */
export interface TargetInfo {
  ref: TableRef;
  /** Quoted `"schema"."table"` for SQL. */
  qualified: string;
  /** `schema.table` for messages. */
  display: string;
  type: TableType;
  columns: Map<string, TargetColumn>;
  sid: TargetColumn | undefined;
  /** Unique column sets (for ON CONFLICT arbiters). */
  uniqueKeys: string[][];
  /** Primary key columns other than sid, for naming rows in logs. */
  primaryKey: string[];
  /**
   * Valid btree indexes, as their leading plain columns (up to the first
   * expression): `open` marks a partial index whose predicate is exactly
   * `kvsz_end = '9999-01-01 00:00:00+00'` (it serves lookups of open
   * history versions only); other partial indexes are left out.
   */
  indexes: { columns: string[]; open: boolean }[];
  /** Foreign keys to and from the engine's other targets (set once every target is loaded). */
  links: TableLinks<TargetInfo>;
  description: TableDescription;
}

export async function loadTargetInfo(
  client: Queryable,
  ref: TableRef,
  type: TableType,
): Promise<{ info?: TargetInfo; description: TableDescription | undefined }> {
  const description = await describeTable(client, ref);
  if (!description) return { description };
  const eq = await loadEqualityByType(
    client,
    description.columns.map((c) => c.typeOid),
  );
  const columns = new Map<string, TargetColumn>();
  for (const c of description.columns) {
    columns.set(c.name, {
      name: c.name,
      type: c.type,
      typeOid: c.typeOid,
      eq: eq.get(c.typeOid) ?? false,
      generated: c.generated,
      identityAlways: c.identityAlways,
    });
  }
  return {
    description,
    info: {
      ref,
      qualified: qualifiedName(ref),
      display: displayName(ref),
      type,
      columns,
      sid: columns.get('sid'),
      primaryKey: description.primaryKey.filter((k) => k !== 'sid'),
      uniqueKeys: description.uniqueKeys,
      indexes: await loadIndexes(client, description.oid),
      links: NO_LINKS,
      description,
    },
  };
}

/**
 * The target's btree indexes that can serve a row lookup. A partial index
 * counts only when its predicate is exactly the open-version one: both sides
 * are deparsed in this session's TimeZone, so the same instant written in
 * another zone still matches.
 */
async function loadIndexes(client: Queryable, oid: number): Promise<TargetInfo['indexes']> {
  const res = await client.query<{ cols: (string | null)[]; pred: string | null; open: string }>(
    `SELECT array_agg(a.attname::text ORDER BY k.ord) AS cols,
            pg_get_expr(i.indpred, i.indrelid) AS pred,
            format('(kvsz_end = %L::timestamp with time zone)', $2::timestamptz) AS open
       FROM pg_index i
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum AND k.attnum > 0
      WHERE i.indrelid = $1 AND i.indisvalid AND k.ord <= i.indnkeyatts
      GROUP BY i.indexrelid, i.indpred, i.indrelid`,
    [oid, OPEN_END],
  );
  const out: TargetInfo['indexes'] = [];
  for (const r of res.rows) {
    const stop = r.cols.indexOf(null);
    const columns = (stop < 0 ? r.cols : r.cols.slice(0, stop)) as string[];
    if (columns.length === 0) continue;
    const open = r.pred !== null && r.pred === r.open;
    if (r.pred !== null && !open) continue;
    out.push({ columns, open });
  }
  return out;
}
