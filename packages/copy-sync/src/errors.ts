import type { TableSyncResult } from './types.js';

/** Every failure this package reports, by kind. */
export type CopySyncErrorCode =
  | 'invalid_options'
  | 'snapshot_import_failed'
  | 'metadata_failed'
  | 'copy_failed'
  | 'tables_failed'
  | 'aborted';

/** Base class of every error thrown by `@kuvasz/copy-sync`. */
export class CopySyncError extends Error {
  override name = 'CopySyncError';
  readonly code: CopySyncErrorCode;

  constructor(code: CopySyncErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** Which server rejected the copy: the one read from or the one written to. */
export type CopySide = 'source' | 'destination';

/**
 * One table's copy failed. Its target is left as it was before the failed
 * transaction (a chunk, or the whole table when it loads through staging);
 * chunks committed before the failure stay recorded and a later sync resumes
 * after them.
 */
export class CopyError extends CopySyncError {
  override name = 'CopyError';
  /** The source table, `schema.table` (`displayName`: parts quoted where SQL needs it). */
  readonly table: string;
  /** The target table, `schema.table` (`displayName`). */
  readonly target: string;
  /** Rows this run committed before the failure (into the target, or into its staging table when the target already held rows). */
  readonly rowsCopied: number;
  readonly sqlstate: string | undefined;
  readonly side: CopySide;

  constructor(init: {
    table: string;
    target: string;
    rowsCopied: number;
    side: CopySide;
    sqlstate?: string | undefined;
    message: string;
    cause?: unknown;
  }) {
    super('copy_failed', init.message, { cause: init.cause });
    this.table = init.table;
    this.target = init.target;
    this.rowsCopied = init.rowsCopied;
    this.side = init.side;
    this.sqlstate = init.sqlstate;
  }
}

/**
 * Some tables of a `syncSource` call failed; the others finished and their
 * results (with watermarks) are in `results`.
 */
export class SyncFailedError extends CopySyncError {
  override name = 'SyncFailedError';
  readonly failures: readonly CopyError[];
  readonly results: readonly TableSyncResult[];

  constructor(failures: readonly CopyError[], results: readonly TableSyncResult[]) {
    const list = failures.map((f) => `  - ${f.message}`).join('\n');
    super(
      'tables_failed',
      `${failures.length} of ${failures.length + results.length} table(s) failed to sync; their chunks done so far are recorded and the next sync resumes them:\n${list}`,
    );
    this.failures = failures;
    this.results = results;
  }
}
