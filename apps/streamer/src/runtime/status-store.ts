import { ensureMetadataSchema, formatLsn } from '@kuvasz/core';
import pg from 'pg';
import type { SourceSnapshot } from './source-runner.js';

export interface SourceHealth {
  lagBytes: bigint | null;
  retainedWalBytes: bigint | null;
  walStatus: string | null;
  confirmedFlushLsn: string | null;
  /** Why the source server could not be asked (the health monitor's last failure), if it could not. */
  error: string | null;
}

export interface TableStat {
  database: string;
  sid: string;
  table: string;
  operation: string;
  result: string;
  count: number;
}

export interface StoredSourceStatus {
  database: string;
  sid: string;
  state: string;
  last_error: string | null;
  last_error_kind: string | null;
  last_error_at: Date | null;
  lag_seconds: number | null;
  lag_bytes: string | null;
  retained_wal_bytes: string | null;
  wal_status: string | null;
  /** `X/Y`, as pg_lsn prints. */
  received_lsn: string | null;
  flushed_lsn: string | null;
  retries: number | null;
  updated_at: Date;
}

/**
 * What `status` shows when it runs in another process than `run`: each
 * source's state and last error, written to the destination's metadata
 * schema by the running streamer.
 */
export class StatusStore {
  private readonly table: string;
  private readonly tablesTable: string;
  private ensured: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
  ) {
    this.table = `${pg.escapeIdentifier(schema)}.streamer_status`;
    this.tablesTable = `${pg.escapeIdentifier(schema)}.streamer_table_stats`;
  }

  /** The tables belong to the metadata schema, created or migrated in one place (`@kuvasz/core`). */
  private ensure(): Promise<void> {
    this.ensured ??= (async () => {
      const client = await this.pool.connect();
      try {
        await ensureMetadataSchema(client, this.schema);
      } catch (err: unknown) {
        this.ensured = undefined;
        throw err;
      } finally {
        client.release();
      }
    })();
    return this.ensured;
  }

  async save(s: SourceSnapshot, health: SourceHealth | undefined): Promise<void> {
    await this.ensure();
    await this.pool.query(
      `INSERT INTO ${this.table} AS t (database, sid, state, last_error, last_error_kind, last_error_at,
                                       lag_seconds, lag_bytes, retained_wal_bytes, wal_status,
                                       received_lsn, flushed_lsn, retries, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now())
       ON CONFLICT (database, sid) DO UPDATE SET
         state = EXCLUDED.state, last_error = EXCLUDED.last_error, last_error_kind = EXCLUDED.last_error_kind,
         last_error_at = EXCLUDED.last_error_at, lag_seconds = EXCLUDED.lag_seconds,
         lag_bytes = COALESCE(EXCLUDED.lag_bytes, t.lag_bytes),
         retained_wal_bytes = COALESCE(EXCLUDED.retained_wal_bytes, t.retained_wal_bytes),
         wal_status = COALESCE(EXCLUDED.wal_status, t.wal_status),
         received_lsn = COALESCE(EXCLUDED.received_lsn, t.received_lsn),
         flushed_lsn = COALESCE(EXCLUDED.flushed_lsn, t.flushed_lsn),
         retries = EXCLUDED.retries, updated_at = now()`,
      [
        s.database,
        s.sid,
        s.state,
        s.lastError?.message ?? null,
        s.lastError?.kind ?? null,
        s.lastError?.at ?? null,
        s.lagSeconds,
        health?.lagBytes?.toString() ?? null,
        health?.retainedWalBytes?.toString() ?? null,
        health?.walStatus ?? null,
        s.receivedLsn === undefined ? null : formatLsn(s.receivedLsn),
        s.flushedLsn === undefined ? null : formatLsn(s.flushedLsn),
        s.retries,
      ],
    );
  }

  /**
   * Counters of this process's applies, added to what earlier runs stored.
   * `entries` are cumulative since `since` was last reset.
   */
  async saveTableStats(entries: TableStat[]): Promise<void> {
    if (entries.length === 0) return;
    await this.ensure();
    await this.pool.query(
      `INSERT INTO ${this.tablesTable} AS t (database, sid, target, operation, result, count)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
       ON CONFLICT (database, sid, target, operation, result)
       DO UPDATE SET count = t.count + EXCLUDED.count, updated_at = now()`,
      [
        entries.map((e) => e.database),
        entries.map((e) => e.sid),
        entries.map((e) => e.table),
        entries.map((e) => e.operation),
        entries.map((e) => e.result),
        entries.map((e) => e.count),
      ],
    );
  }

  async loadTableStats(): Promise<TableStat[]> {
    const exists = await this.pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
      this.tablesTable,
    ]);
    if (!exists.rows[0]?.t) return [];
    const res = await this.pool.query<TableStat & { count: string }>(
      `SELECT database, sid, target AS table, operation, result, count FROM ${this.tablesTable} ORDER BY 1, 2, 3, 4, 5`,
    );
    return res.rows.map((r) => ({ ...r, count: Number(r.count) }));
  }

  async load(): Promise<StoredSourceStatus[]> {
    const exists = await this.pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
      this.table,
    ]);
    if (!exists.rows[0]?.t) return [];
    const res = await this.pool.query<StoredSourceStatus>(
      `SELECT database, sid, state, last_error, last_error_kind, last_error_at, lag_seconds,
              lag_bytes::text, retained_wal_bytes::text, wal_status, received_lsn::text,
              flushed_lsn::text, retries, updated_at
         FROM ${this.table} ORDER BY database, sid`,
    );
    return res.rows;
  }
}
