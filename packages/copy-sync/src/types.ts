import type { LeaseFence, Logger, TableRef } from '@kuvasz/core';
import type pg from 'pg';
import type { RowRateLimit } from './rate-limit.js';
import type { CopyRowRules } from './row-rules.js';

export type { TableRef };

export type TargetType = 'clone' | 'append' | 'history';

/** One table to copy: where it comes from, where it goes, how it is kept. */
export interface TableSpec {
  source: TableRef;
  target: TableRef;
  type: TargetType;
  /** Which rows are loaded and which target columns are computed; absent: every row as it is. */
  rows?: CopyRowRules | undefined;
}

/** Identifies one source: a database of the configuration and the `sid` of one of its servers. */
export interface SourceId {
  database: string;
  sid: string;
}

export interface SourceConnection extends SourceId {
  /** libpq URL or key/value conninfo of the source; never logged unredacted. */
  connectionString: string;
}

/**
 * An exported snapshot to read in. `lsn` is the slot's consistent point: the
 * stream delivers exactly the transactions that commit after it.
 */
export interface SnapshotInfo {
  name: string;
  lsn: bigint;
  /**
   * The time of the snapshot, when the caller knows it (e.g. the clock when the
   * slot was created). Used as the close/open time of history versions in a
   * re-sync; default: the source's `transaction_timestamp()` of the first
   * reader, taken right after it imported the snapshot.
   */
  time?: Date;
}

/** A snapshot that must be released once every reader has imported it (a temporary slot's). */
export interface AcquiredSnapshot extends SnapshotInfo {
  release(): Promise<void>;
}

export interface ProgressEvent {
  /** The source table, `schema.table` (`displayName`: parts quoted where SQL needs it). */
  table: string;
  /** Rows copied so far by this run (counted from the COPY stream while it flows). */
  rows: number;
  /** COPY text bytes moved so far by this run. */
  bytes: number;
  chunksDone: number;
  chunksTotal: number;
  rowsPerSecond: number;
  bytesPerSecond: number;
  done: boolean;
}

export interface SyncSourceOptions {
  source: SourceConnection;
  /**
   * The snapshot to read in (the new slot's exported snapshot). When absent,
   * `acquireSnapshot` is called once and its snapshot used instead.
   */
  snapshot?: SnapshotInfo;
  /** Gets a fresh exported snapshot (e.g. a temporary slot's); required when `snapshot` is absent. */
  acquireSnapshot?: () => Promise<AcquiredSnapshot>;
  /**
   * Called once every reader connection has imported the snapshot: from then
   * on the exporting connection may run its next command (START_REPLICATION).
   */
  onSnapshotImported?: () => void;
  tables: TableSpec[];
  /** Per-table progress, at most every `progressIntervalMs` per table, and once with `done: true`. */
  onProgress?: (p: ProgressEvent) => void;
  signal?: AbortSignal;
  /**
   * In a fleet, the lease this instance holds for the source: every
   * destination transaction of the copy checks it before COMMIT, so an
   * instance that lost the source meanwhile writes nothing more of it (the
   * transaction fails with SQLSTATE KV001, see `isLeaseLost` of @kuvasz/core).
   */
  fence?: LeaseFence;
}

/** One synced table and the watermarks the apply engine needs for it. */
export interface TableSyncResult {
  /** The source table. */
  table: TableRef;
  target: TableRef;
  type: TargetType;
  /** Rows loaded in total (over every run that contributed chunks). */
  rows: number;
  /** COPY text bytes loaded in total. */
  bytes: number;
  /** Changes of this table committed before this LSN are in the copy: drop them. */
  skipBefore: bigint;
  /**
   * Present only when chunks were read at different snapshots (a resumed copy):
   * changes committed before this LSN (and at or after `skipBefore`) must be
   * applied idempotently.
   */
  reconcileBefore?: bigint;
  /** True when this run continued a copy that an earlier run had begun. */
  resumed: boolean;
  /** True when the table was already synced before this call: nothing was copied. */
  alreadySynced: boolean;
}

export type TableStatus = 'copying' | 'done';

/** The persisted state of one table of one source. */
export interface TableState {
  table: TableRef;
  target: TableRef;
  type: TargetType;
  status: TableStatus;
  /** 'direct': chunks load straight into the target; 'staging': into a staging table merged at the end. */
  mode: 'direct' | 'staging';
  skipBefore: bigint;
  reconcileBefore: bigint | undefined;
  /** LSN of the snapshot the latest run read in. */
  snapshotLsn: bigint;
  chunksDone: number;
  chunksTotal: number;
  rows: number;
  bytes: number;
  startedAt: Date;
  finishedAt: Date | undefined;
}

export interface CopySyncOptions {
  /** The destination; the app owns it. At most `readers + parallelTables` clients are used at once. */
  destination: pg.Pool;
  /** Schema of the metadata tables, created on first use. Default `kuvasz`. */
  metadataSchema?: string;
  /** Tables copied at once. Default 2. */
  parallelTables?: number;
  /**
   * Source connections, each in a REPEATABLE READ transaction on the snapshot;
   * chunks of the running tables are spread over them. Default `parallelTables`.
   */
  readers?: number;
  /** Pages (8 KiB blocks) per ctid range on PostgreSQL 14+. Default 16384 (128 MiB). */
  chunkPages?: number;
  /**
   * Rows per second read by every copy that shares this limit (pass one
   * instance to every `CopySync` of the process for a global limit).
   * Default: no limit.
   */
  rateLimit?: RowRateLimit | undefined;
  /** Minimum time between two progress events of one table. Default 250 ms. */
  progressIntervalMs?: number;
  logger?: Logger;
}
