import { redactPasswords } from '@kuvasz/core';
import type pg from 'pg';
import { withPg } from '../commands/targets.js';
import { notFound } from './http-json.js';
import type { MapSnapshot, TableType } from './map-model.js';

export interface ColumnEntry {
  column_type: string;
  data_type_oid: number;
  primary_key: boolean;
}

/** One table found in a configured source database: the original's `/api/map` entry. */
export interface MapEntry {
  id: number;
  db_id: number;
  db_name: string;
  schema: string;
  name: string;
  /** The configured type, when the table is replicated. */
  type: TableType | null;
  target: string;
  partitions: string[] | null;
  partitions_regex: string | null;
  source_columns: Record<string, ColumnEntry>;
  target_columns: Record<string, ColumnEntry> | null;
  /** Configured in the map. */
  replicated: boolean;
  /** Its target table exists in the destination. */
  present: boolean;
  /** The configured table's id (`/api/tbl/{id}`), when replicated. */
  tbl_id: number | null;
}

interface TableInfo {
  schema: string;
  name: string;
  partitions: string[] | null;
  columns: Record<string, ColumnEntry>;
}

const TABLES_SQL = `
  SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
         CASE WHEN c.relkind = 'p' THEN
           array(SELECT p.relname FROM pg_catalog.pg_inherits i
                   JOIN pg_catalog.pg_class p ON p.oid = i.inhrelid
                  WHERE i.inhparent = c.oid ORDER BY p.relname)::text[] END AS partitions
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
     AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
     AND ($1::text IS NULL OR n.nspname <> $1)`;

const COLUMNS_SQL = `
  SELECT a.attrelid::int AS oid, a.attname AS name,
         pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.atttypid::int AS type_oid,
         coalesce(a.attnum = ANY (i.indkey::int2[]), false) AS pk
    FROM pg_catalog.pg_attribute a
    LEFT JOIN pg_catalog.pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
   WHERE a.attrelid = ANY ($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
   ORDER BY a.attrelid, a.attnum`;

/** Every table of one database (a source, or the destination), with its columns. */
async function readTables(client: pg.ClientBase, skipSchema: string | null): Promise<TableInfo[]> {
  const t = await client.query<{
    oid: number;
    schema: string;
    name: string;
    partitions: string[] | null;
  }>(TABLES_SQL, [skipSchema]);
  const cols = await client.query<{
    oid: number;
    name: string;
    type: string;
    type_oid: number;
    pk: boolean;
  }>(COLUMNS_SQL, [t.rows.map((r) => r.oid)]);
  return t.rows.map((r) => ({
    schema: r.schema,
    name: r.name,
    partitions: r.partitions,
    columns: Object.fromEntries(
      cols.rows
        .filter((c) => c.oid === r.oid)
        .map((c) => [
          c.name,
          { column_type: c.type, data_type_oid: c.type_oid, primary_key: c.pk },
        ]),
    ),
  }));
}

/**
 * The tables of every configured source database (read from its first URL
 * that answers) beside their targets: what `/api/map` lists. Read on first
 * use and on `refresh()`; ids are positions in (database, schema, table)
 * order of the last refresh.
 */
export class MapCatalog {
  private entries: MapEntry[] | undefined;
  /** Databases none of whose URLs answered at the last refresh, with why. */
  unreachable: { db: string; error: string }[] = [];

  constructor(
    private readonly load: () => Promise<MapSnapshot>,
    private readonly destinationUrl: () => string,
    private readonly destinationSchema: () => string,
    private readonly metadataSchema: () => string,
    /** A map URL as this client connects with it (libpq parameters translated). */
    private readonly connectUrl: (url: string) => string,
  ) {}

  async list(): Promise<MapEntry[]> {
    if (!this.entries) await this.refresh();
    return this.entries!;
  }

  async get(id: number): Promise<MapEntry> {
    const e = (await this.list()).find((x) => x.id === id);
    if (!e) throw notFound(`map entry ${id}`);
    return e;
  }

  /** The map changed: the next read refreshes (replicated / present flags follow the map). */
  invalidate(): void {
    this.entries = undefined;
  }

  async refresh(): Promise<void> {
    const map = await this.load();
    const destTables = await withPg(
      this.destinationUrl(),
      'the destination',
      (c) => readTables(c, this.metadataSchema()),
      CATALOG_CONNECT_MS,
    );
    const destSchema = this.destinationSchema();
    const out: Omit<MapEntry, 'id'>[] = [];
    const unreachable: { db: string; error: string }[] = [];
    for (const db of map.dbs) {
      const urls = map.urls.filter((u) => u.db_id === db.id);
      let tables: TableInfo[] | undefined;
      let lastError = 'no URL';
      for (const u of urls) {
        try {
          tables = await withPg(
            this.connectUrl(u.url),
            `source ${db.name} (sid ${u.sid})`,
            (c) => readTables(c, null),
            CATALOG_CONNECT_MS,
          );
          break;
        } catch (e) {
          lastError = redactPasswords((e as Error).message);
        }
      }
      if (!tables) {
        unreachable.push({ db: db.name, error: lastError });
        continue;
      }
      for (const t of tables) {
        const tbl = map.tbls.find(
          (x) => x.db_id === db.id && x.schema === t.schema && x.name === t.name,
        );
        const target = tbl?.target ?? t.name;
        const [tSchema, tName] = target.includes('.') ? target.split('.', 2) : [destSchema, target];
        const dest = destTables.find((d) => d.schema === tSchema && d.name === tName);
        out.push({
          db_id: db.id,
          db_name: db.name,
          schema: t.schema,
          name: t.name,
          type: tbl?.type ?? null,
          target,
          partitions: t.partitions,
          partitions_regex: tbl?.partitions_regex ?? null,
          source_columns: t.columns,
          target_columns: dest?.columns ?? null,
          replicated: tbl !== undefined,
          present: dest !== undefined,
          tbl_id: tbl?.id ?? null,
        });
      }
    }
    out.sort((a, b) => a.db_id - b.db_id || cmp(a.schema, b.schema) || cmp(a.name, b.name));
    this.entries = out.map((e, i) => ({ id: i + 1, ...e }));
    this.unreachable = unreachable;
  }
}

/** A source that does not answer quickly is listed as unreachable, not waited for. */
const CATALOG_CONNECT_MS = 5_000;

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
