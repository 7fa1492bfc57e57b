import type { TableRef } from '@kuvasz/core';
import type pg from 'pg';

/** Anything that can run a query: a `pg.Client`, a `pg.PoolClient` or a `pg.Pool`. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

export type { TableRef } from '@kuvasz/core';

export interface ColumnDescription {
  name: string;
  /** `format_type(atttypid, atttypmod)`, schema-qualified where the search path needs it. */
  type: string;
  typeOid: number;
  notNull: boolean;
  /** Default expression (`pg_get_expr`), or undefined. */
  default: string | undefined;
  /** A generated (computed) column: never written. */
  generated: boolean;
  /** `GENERATED ALWAYS AS IDENTITY`: inserts need `OVERRIDING SYSTEM VALUE`. */
  identityAlways: boolean;
}

export interface TableDescription extends TableRef {
  oid: number;
  /** `r` ordinary, `p` partitioned, `v` view, ... (pg_class.relkind). */
  kind: string;
  columns: ColumnDescription[];
  primaryKey: string[];
  replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
  /** Columns of the replica identity: the primary key, the identity index, or every column (FULL). */
  identityColumns: string[];
  /** Column sets of the valid unique indexes without predicate or expression (the primary key too). */
  uniqueKeys: string[][];
}

const IDENTITY: Record<string, TableDescription['replicaIdentity']> = {
  d: 'default',
  n: 'nothing',
  f: 'full',
  i: 'index',
};

/**
 * Describes a table from the catalogs of any PostgreSQL 12+ server: columns,
 * primary key and replica identity. Undefined when the table does not exist.
 */
export async function describeTable(
  client: Queryable,
  ref: TableRef,
): Promise<TableDescription | undefined> {
  const rel = await client.query<{ oid: number; relkind: string; relreplident: string }>(
    `SELECT c.oid::int AS oid, c.relkind::text AS relkind, c.relreplident::text AS relreplident
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [ref.schema, ref.table],
  );
  const r = rel.rows[0];
  if (!r) return undefined;
  const cols = await client.query<{
    name: string;
    type: string;
    type_oid: number;
    not_null: boolean;
    def: string | null;
    generated: boolean;
    identity_always: boolean;
  }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.atttypid::int AS type_oid, a.attnotnull AS not_null,
            pg_get_expr(d.adbin, d.adrelid) AS def,
            a.attgenerated <> '' AS generated, a.attidentity = 'a' AS identity_always
       FROM pg_attribute a
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [r.oid],
  );
  const idx = await client.query<{
    index: number;
    name: string;
    primary: boolean;
    ident: boolean;
    plain: boolean;
  }>(
    `SELECT i.indexrelid::int AS index, a.attname AS name, i.indisprimary AS primary,
            i.indisreplident AS ident,
            (i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL) AS plain
       FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND (i.indisprimary OR i.indisreplident OR i.indisunique)
      ORDER BY i.indexrelid, k.ord`,
    [r.oid],
  );
  const unique = new Map<number, string[]>();
  for (const x of idx.rows) {
    if (!x.plain) continue;
    const list = unique.get(x.index) ?? [];
    list.push(x.name);
    unique.set(x.index, list);
  }
  const columns: ColumnDescription[] = cols.rows.map((c) => ({
    name: c.name,
    type: c.type,
    typeOid: c.type_oid,
    notNull: c.not_null,
    default: c.def ?? undefined,
    generated: c.generated,
    identityAlways: c.identity_always,
  }));
  const primaryKey = idx.rows.filter((x) => x.primary).map((x) => x.name);
  const replicaIdentity = IDENTITY[r.relreplident] ?? 'default';
  let identityColumns: string[];
  if (replicaIdentity === 'full') identityColumns = columns.map((c) => c.name);
  else if (replicaIdentity === 'index')
    identityColumns = idx.rows.filter((x) => x.ident).map((x) => x.name);
  else if (replicaIdentity === 'default') identityColumns = primaryKey;
  else identityColumns = [];
  return {
    schema: ref.schema,
    table: ref.table,
    oid: r.oid,
    kind: r.relkind,
    columns,
    primaryKey,
    replicaIdentity,
    identityColumns,
    uniqueKeys: [...unique.values()],
  };
}
