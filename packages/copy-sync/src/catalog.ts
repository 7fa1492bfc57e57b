import type { TableRef } from '@kuvasz/core';
import type pg from 'pg';

/** One column as the catalog describes it. */
export interface ColumnInfo {
  name: string;
  /** `format_type(atttypid, atttypmod)`. */
  type: string;
  typeOid: number;
  notNull: boolean;
  /** Stored or virtual generated column: never written, never read for the copy. */
  generated: boolean;
  /** `a` (GENERATED ALWAYS AS IDENTITY), `d` (BY DEFAULT) or '' */
  identity: string;
}

export interface RelationInfo {
  ref: TableRef;
  oid: number;
  /** `r` table, `p` partitioned table, others are refused. */
  kind: string;
  columns: ColumnInfo[];
  /** Primary key columns in key order (empty when there is none). */
  primaryKey: string[];
  /** Columns of the primary key, else of the first plain unique index whose columns are all NOT NULL. */
  uniqueKey: string[];
}

/** Reads a relation's columns and keys; undefined when it does not exist. */
export async function describeRelation(
  client: pg.ClientBase,
  ref: TableRef,
): Promise<RelationInfo | undefined> {
  const rel = await client.query<{ oid: number; relkind: string }>(
    `SELECT c.oid::int AS oid, c.relkind::text AS relkind
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [ref.schema, ref.table],
  );
  const row = rel.rows[0];
  if (!row) return undefined;
  const cols = await client.query<{
    name: string;
    type: string;
    type_oid: number;
    not_null: boolean;
    generated: boolean;
    identity: string;
  }>(
    `SELECT a.attname AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.atttypid::int AS type_oid,
            a.attnotnull AS not_null, a.attgenerated <> '' AS generated, a.attidentity::text AS identity
       FROM pg_catalog.pg_attribute a
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [row.oid],
  );
  const keys = await client.query<{ indisprimary: boolean; cols: string[]; all_not_null: boolean }>(
    `SELECT i.indisprimary,
            array(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                   ORDER BY k.ord)::text[] AS cols,
            NOT EXISTS (SELECT 1 FROM unnest(i.indkey::int2[]) k(attnum)
                          JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                         WHERE NOT a.attnotnull) AS all_not_null
       FROM pg_catalog.pg_index i
      WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
        AND i.indexprs IS NULL AND NOT (0 = ANY (i.indkey::int2[]))
      ORDER BY i.indisprimary DESC, i.indexrelid`,
    [row.oid],
  );
  const pk = keys.rows.find((k) => k.indisprimary);
  const uk = pk ?? keys.rows.find((k) => k.all_not_null);
  return {
    ref,
    oid: row.oid,
    kind: row.relkind,
    columns: cols.rows.map((c) => ({
      name: c.name,
      type: c.type,
      typeOid: c.type_oid,
      notNull: c.not_null,
      generated: c.generated,
      identity: c.identity,
    })),
    primaryKey: pk?.cols ?? [],
    uniqueKey: uk?.cols ?? [],
  };
}

/**
 * Size in pages used to cut ctid ranges: the relation's own for a table, the
 * largest leaf's for a partitioned table (a ctid range then applies to every
 * partition, which still covers each partition's rows exactly once).
 */
export async function relationPages(client: pg.ClientBase, oid: number): Promise<number> {
  const res = await client.query<{ pages: string | null }>(
    `SELECT (coalesce((SELECT max(pg_catalog.pg_relation_size(t.relid))
                         FROM pg_catalog.pg_partition_tree($1::regclass) t WHERE t.isleaf),
                      pg_catalog.pg_relation_size($1::regclass))
             / current_setting('block_size')::bigint)::text AS pages`,
    [oid],
  );
  return Number(res.rows[0]?.pages ?? 0);
}

export async function serverMajor(client: pg.ClientBase): Promise<number> {
  const res = await client.query<{ v: string }>(
    `SELECT current_setting('server_version_num') AS v`,
  );
  return Math.floor(Number(res.rows[0]?.v) / 10000);
}
