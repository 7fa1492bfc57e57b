import { displayName, type Logger, messageOf, sqlstateOf } from '@kuvasz/core';
import type pg from 'pg';
import type { RelationInfo } from './catalog.js';
import type { ColumnMapping } from './column-mapping.js';
import { CopyError, type CopySide, CopySyncError } from './errors.js';
import type { MetadataStore, StateKey } from './metadata-store.js';
import type { RowRateLimit } from './rate-limit.js';
import type { ReaderPool } from './reader-pool.js';
import type { ProgressEvent, SourceConnection, TableSpec } from './types.js';

/** What one table's sync needs from the run around it. */
export interface TableRunContext {
  spec: TableSpec;
  source: SourceConnection;
  snapshot: { name: string; lsn: bigint; time: Date };
  readers: ReaderPool;
  readerCount: number;
  pool: pg.Pool;
  store: MetadataStore;
  chunkPages: number;
  progressIntervalMs: number;
  rateLimit: RowRateLimit | undefined;
  onProgress: ((p: ProgressEvent) => void) | undefined;
  signal: AbortSignal | undefined;
  logger: Logger;
  /** In a fleet, the statement that aborts a destination transaction once this instance lost the source's lease. */
  fence: string | undefined;
}

/** Every destination transaction of a copy checks the lease before COMMIT (see SyncSourceOptions.fence). */
export async function checkFence(ctx: TableRunContext, dest: pg.PoolClient): Promise<void> {
  if (ctx.fence) await dest.query(ctx.fence);
}

/** The decided way of loading one table in this run. */
export interface TablePlan {
  key: StateKey;
  source: RelationInfo;
  target: RelationInfo;
  mapping: ColumnMapping;
  mode: 'direct' | 'staging';
  /** Quoted staging table, in staging mode. */
  staging: string | undefined;
  chunkPages: number;
  chunksTotal: number;
  /** Chunks already committed by earlier runs. */
  done: Set<number>;
  /** Chunks are read at a snapshot other than the first one: load through temp staging + upsert. */
  upsert: boolean;
  resumed: boolean;
  skipBefore: bigint;
  reconcileBefore: bigint | undefined;
  historyTime: Date;
  /** Rows and bytes of the chunks done before this run. */
  priorRows: number;
  priorBytes: number;
}

/** Builds the typed error of a table from anything thrown on one side. */
export function tableError(
  ctx: TableRunContext,
  side: CopySide,
  e: unknown,
  rowsCopied: number,
  what?: string,
): CopyError | CopySyncError {
  if (e instanceof CopyError || (e instanceof CopySyncError && e.code === 'aborted')) return e;
  const table = displayName(ctx.spec.source);
  const target = displayName(ctx.spec.target);
  const state = sqlstateOf(e);
  const server = state ? `${messageOf(e)} (SQLSTATE ${state})` : messageOf(e);
  return new CopyError({
    table,
    target,
    rowsCopied,
    side,
    sqlstate: state,
    message: `copy of ${table} into ${target} (database ${ctx.source.database}, sid ${ctx.source.sid}) failed on the ${side}: ${what ? `${what}: ` : ''}${server}`,
    cause: e,
  });
}

export function abortedError(ctx: TableRunContext, reason: unknown): CopySyncError {
  return new CopySyncError(
    'aborted',
    `copy of ${displayName(ctx.spec.source)} aborted: ${messageOf(reason)}; its committed chunks are recorded and the next sync resumes`,
    { cause: reason },
  );
}
