import { ensureMetadataSchema, formatLsn, messageOf, parseLsn, type TableRef } from '@kuvasz/core';
import type pg from 'pg';
import { CopySyncError } from './errors.js';
import { ident } from './sql.js';
import type { SourceId, TableState, TargetType } from './types.js';

/** The key of one table of one source in the metadata tables. */
export interface StateKey extends SourceId {
  table: TableRef;
  target: TableRef;
}

/** A table row as stored, with what a run needs beyond the public state. */
export interface StoredTable extends TableState {
  snapshotName: string;
  chunkPages: number;
  historyTime: Date | undefined;
  stagingTable: string | undefined;
}

export interface ChunkRecord {
  chunk: number;
  rows: number;
  bytes: number;
}

const TABLES = 'copy_sync_tables';
const CHUNKS = 'copy_sync_chunks';

interface TableRow {
  database: string;
  sid: string;
  source_schema: string;
  source_table: string;
  target_schema: string;
  target_table: string;
  type: TargetType;
  status: 'copying' | 'done';
  mode: 'direct' | 'staging';
  snapshot_name: string;
  snapshot_lsn: string;
  skip_before: string;
  reconcile_before: string | null;
  chunk_pages: number;
  chunks_total: number;
  chunks_done: number;
  rows: string;
  bytes: string;
  history_time: Date | null;
  staging_table: string | null;
  started_at: Date;
  finished_at: Date | null;
}

/**
 * The per-table state in the destination: one row per (database, sid, source
 * table) and one row per committed chunk. Chunk rows are written in the same
 * transaction as the chunk's data, so they never claim rows that are not there.
 */
export class MetadataStore {
  readonly schema: string;
  private ready: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
  ) {
    this.schema = schema;
  }

  get tablesTable(): string {
    return `${ident(this.schema)}.${ident(TABLES)}`;
  }

  get chunksTable(): string {
    return `${ident(this.schema)}.${ident(CHUNKS)}`;
  }

  /** Creates the schema and tables once per instance; safe when several processes race. */
  ensure(): Promise<void> {
    this.ready ??= this.create().catch((e: unknown) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  /** The tables belong to the metadata schema, created or migrated in one place (`@kuvasz/core`). */
  private async create(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await ensureMetadataSchema(client, this.schema);
    } catch (e: unknown) {
      throw new CopySyncError('metadata_failed', messageOf(e), { cause: e });
    } finally {
      client.release();
    }
  }

  private keyWhere(key: StateKey, firstParam = 1, alias = ''): { sql: string; params: string[] } {
    const p = firstParam;
    const a = alias ? `${alias}.` : '';
    return {
      sql:
        `${a}database = $${p} AND ${a}sid = $${p + 1} AND ${a}source_schema = $${p + 2} AND ${a}source_table = $${p + 3}` +
        ` AND ${a}target_schema = $${p + 4} AND ${a}target_table = $${p + 5}`,
      params: [
        key.database,
        key.sid,
        key.table.schema,
        key.table.table,
        key.target.schema,
        key.target.table,
      ],
    };
  }

  private selectSql(where: string): string {
    return `SELECT t.*, t.snapshot_lsn::text AS snapshot_lsn, t.skip_before::text AS skip_before,
                   t.reconcile_before::text AS reconcile_before, t.rows::text AS rows, t.bytes::text AS bytes,
                   CASE WHEN t.status = 'done' THEN t.chunks_total
                        ELSE (SELECT count(*)::int FROM ${this.chunksTable} c
                               WHERE c.database = t.database AND c.sid = t.sid
                                 AND c.source_schema = t.source_schema AND c.source_table = t.source_table
                                 AND c.target_schema = t.target_schema AND c.target_table = t.target_table)
                   END AS chunks_done
              FROM ${this.tablesTable} t WHERE ${where}
             ORDER BY source_schema, source_table, target_schema, target_table`;
  }

  async load(client: pg.ClientBase, key: StateKey): Promise<StoredTable | undefined> {
    const w = this.keyWhere(key);
    const res = await client.query<TableRow>(this.selectSql(w.sql), w.params);
    const row = res.rows[0];
    return row ? toStored(row) : undefined;
  }

  async loadAll(source: SourceId): Promise<StoredTable[]> {
    await this.ensure();
    const res = await this.pool.query<TableRow>(this.selectSql('database = $1 AND sid = $2'), [
      source.database,
      source.sid,
    ]);
    return res.rows.map(toStored);
  }

  /** Starts (or restarts from zero) a table: its chunk records go, the new plan is written. */
  async begin(
    client: pg.ClientBase,
    key: StateKey,
    s: {
      type: TargetType;
      mode: 'direct' | 'staging';
      snapshotName: string;
      snapshotLsn: bigint;
      chunkPages: number;
      chunksTotal: number;
      historyTime: Date | undefined;
      stagingTable: string | undefined;
    },
  ): Promise<void> {
    await this.deleteChunks(client, key);
    const w = this.keyWhere(key);
    await client.query(`DELETE FROM ${this.tablesTable} WHERE ${w.sql}`, w.params);
    await client.query(
      `INSERT INTO ${this.tablesTable} (database, sid, source_schema, source_table, target_schema, target_table,
              type, status, mode, snapshot_name, snapshot_lsn, skip_before, chunk_pages, chunks_total,
              history_time, staging_table)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'copying', $8, $9, $10::pg_lsn, $10::pg_lsn, $11, $12, $13, $14)`,
      [
        ...w.params,
        s.type,
        s.mode,
        s.snapshotName,
        formatLsn(s.snapshotLsn),
        s.chunkPages,
        s.chunksTotal,
        s.historyTime ?? null,
        s.stagingTable ?? null,
      ],
    );
  }

  /** A resumed run reads the remaining chunks at a new snapshot. */
  async resumeAt(
    client: pg.ClientBase,
    key: StateKey,
    snapshotName: string,
    snapshotLsn: bigint,
    reconcileBefore: bigint | undefined,
  ): Promise<void> {
    const w = this.keyWhere(key, 4);
    await client.query(
      `UPDATE ${this.tablesTable} SET snapshot_name = $1, snapshot_lsn = $2::pg_lsn, reconcile_before = $3::pg_lsn WHERE ${w.sql}`,
      [
        snapshotName,
        formatLsn(snapshotLsn),
        reconcileBefore === undefined ? null : formatLsn(reconcileBefore),
        ...w.params,
      ],
    );
  }

  async deleteChunks(client: pg.ClientBase, key: StateKey): Promise<void> {
    const w = this.keyWhere(key);
    await client.query(`DELETE FROM ${this.chunksTable} WHERE ${w.sql}`, w.params);
  }

  async chunks(client: pg.ClientBase, key: StateKey): Promise<ChunkRecord[]> {
    const w = this.keyWhere(key);
    const res = await client.query<{ chunk: number; rows: string; bytes: string }>(
      `SELECT chunk, rows::text, bytes::text FROM ${this.chunksTable} WHERE ${w.sql} ORDER BY chunk`,
      w.params,
    );
    return res.rows.map((r) => ({ chunk: r.chunk, rows: Number(r.rows), bytes: Number(r.bytes) }));
  }

  /** Written inside the chunk's own destination transaction. */
  async recordChunk(
    client: pg.ClientBase,
    key: StateKey,
    chunk: ChunkRecord,
    snapshotLsn: bigint,
  ): Promise<void> {
    await client.query(
      `INSERT INTO ${this.chunksTable} (database, sid, source_schema, source_table, target_schema, target_table,
              chunk, rows, bytes, snapshot_lsn)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::pg_lsn)`,
      [
        key.database,
        key.sid,
        key.table.schema,
        key.table.table,
        key.target.schema,
        key.target.table,
        chunk.chunk,
        chunk.rows,
        chunk.bytes,
        formatLsn(snapshotLsn),
      ],
    );
  }

  /** Marks the table done with its totals; its chunk records are folded into them. */
  async finish(client: pg.ClientBase, key: StateKey): Promise<{ rows: number; bytes: number }> {
    const t = this.keyWhere(key, 1, 't');
    const c = this.keyWhere(key, 1, 'c');
    const res = await client.query<{ rows: string; bytes: string }>(
      `UPDATE ${this.tablesTable} t
          SET status = 'done', finished_at = now(), staging_table = NULL,
              rows = s.rows, bytes = s.bytes
         FROM (SELECT coalesce(sum(c.rows), 0) AS rows, coalesce(sum(c.bytes), 0) AS bytes
                 FROM ${this.chunksTable} c WHERE ${c.sql}) s
        WHERE ${t.sql}
        RETURNING t.rows::text, t.bytes::text`,
      t.params,
    );
    await this.deleteChunks(client, key);
    const row = res.rows[0];
    return { rows: Number(row?.rows ?? 0), bytes: Number(row?.bytes ?? 0) };
  }

  /** Deletes the state of one source table (every target it feeds), or of every table of the source. */
  async forget(client: pg.ClientBase, source: SourceId, table?: TableRef): Promise<StoredTable[]> {
    const where = table
      ? 'database = $1 AND sid = $2 AND source_schema = $3 AND source_table = $4'
      : 'database = $1 AND sid = $2';
    const params = table
      ? [source.database, source.sid, table.schema, table.table]
      : [source.database, source.sid];
    const res = await client.query<TableRow>(
      `DELETE FROM ${this.tablesTable} WHERE ${where} RETURNING *, snapshot_lsn::text AS snapshot_lsn,
              skip_before::text AS skip_before, reconcile_before::text AS reconcile_before,
              rows::text AS rows, bytes::text AS bytes, 0 AS chunks_done`,
      params,
    );
    await client.query(`DELETE FROM ${this.chunksTable} WHERE ${where}`, params);
    return res.rows.map(toStored);
  }
}

function toStored(r: TableRow): StoredTable {
  return {
    table: { schema: r.source_schema, table: r.source_table },
    target: { schema: r.target_schema, table: r.target_table },
    type: r.type,
    status: r.status,
    mode: r.mode,
    skipBefore: parseLsn(r.skip_before),
    reconcileBefore: r.reconcile_before === null ? undefined : parseLsn(r.reconcile_before),
    snapshotLsn: parseLsn(r.snapshot_lsn),
    chunksDone: r.chunks_done,
    chunksTotal: r.chunks_total,
    rows: Number(r.rows),
    bytes: Number(r.bytes),
    startedAt: r.started_at,
    finishedAt: r.finished_at ?? undefined,
    snapshotName: r.snapshot_name,
    chunkPages: r.chunk_pages,
    historyTime: r.history_time ?? undefined,
    stagingTable: r.staging_table ?? undefined,
  };
}
