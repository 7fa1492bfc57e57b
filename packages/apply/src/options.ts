import type pg from 'pg';
import { ApplyError } from './errors.js';
import type { Logger } from './logger.js';
import type { RetryOptions } from './retry.js';
import type { TableType } from './target-ddl.js';

export interface TableMapping {
  source: { database: string; schema: string; table: string };
  target: { schema: string; table: string };
  type: TableType;
}

export interface ApplyEngineOptions {
  /** App-owned pool; the engine holds up to `workers` connections from it, plus one briefly (loading positions, and ANALYZE of targets it filled: see the README). */
  destination: pg.Pool;
  /** Schema of the engine's bookkeeping tables, created on first use. Default `kuvasz`. */
  metadataSchema?: string;
  tables: TableMapping[];
  /** Destination connections applying in parallel; a target table always goes to the same one. Default 4. */
  workers?: number;
  /**
   * Lanes per target table: its changes are spread by key hash over this many
   * workers (key changes, truncates and REPLICA IDENTITY FULL changes are
   * ordered across lanes). At most \`workers\`. Default 2 (or \`workers\` if
   * fewer): one lane plans while the other waits on the destination; on the
   * 2-core machines we measured on, 4 lanes were slower than 2 (see the
   * README). Fixed per table once it has stored positions.
   */
  tableLanes?: number;
  /**
   * A worker's batch is flushed at this many changes. Default 5,000: as fast
   * as 10,000 in the package bench and about 40 MB lighter (queued changes
   * and the batch in flight are what the engine holds).
   */
  batchRows?: number;
  /**
   * ... or once its oldest change has waited four times as long as the
   * worker's previous batch took, at least 1 ms and at most this. Default
   * 20 ms: under load the batch in flight is what coalesces changes (a
   * worker takes all that queued meanwhile), so a longer wait only adds
   * latency.
   */
  flushIntervalMs?: number;
  /**
   * `push()` waits while more changes than this are queued (memory bound);
   * meanwhile every worker flushes what it has without waiting for its
   * interval. Default `batchRows`.
   */
  maxPendingRows?: number;
  retry?: RetryOptions;
  /**
   * `off` lets the destination acknowledge commits before their WAL is on
   * disk; the engine then reports a position durable only once the
   * destination's WAL flush LSN passed the commit. Default `on`.
   */
  synchronousCommit?: 'on' | 'off';
  logger?: Logger;
}

/** Internal, for tests: crash points between the steps of a batch. Not part of the public API. */
export interface InternalOptions {
  testHooks?: { step?: (name: string, worker: number) => void | Promise<void> };
  /** Inserts of at least this many rows go by COPY (default COPY_MIN_ROWS); tests force either path. */
  copyMinRows?: number;
}

export interface ResolvedOptions {
  metadataSchema: string;
  workers: number;
  tableLanes: number;
  batchRows: number;
  flushIntervalMs: number;
  maxPendingRows: number;
  retry: Required<RetryOptions>;
  synchronousCommit: 'on' | 'off';
}

function positiveInt(
  name: string,
  v: number | undefined,
  dflt: number,
  problems: string[],
): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1)
    problems.push(`${name} must be a positive integer (got ${String(v)})`);
  return v;
}

export function resolveOptions(o: ApplyEngineOptions): ResolvedOptions {
  const problems: string[] = [];
  if (!o.destination || typeof (o.destination as { connect?: unknown }).connect !== 'function') {
    problems.push('destination must be a pg.Pool');
  }
  if (!Array.isArray(o.tables))
    problems.push('tables must be an array of { source, target, type }');
  else {
    o.tables.forEach((t, i) => {
      if (!t?.source?.database || !t.source.schema || !t.source.table) {
        problems.push(`tables[${i}].source needs database, schema and table`);
      }
      if (!t?.target?.schema || !t.target.table)
        problems.push(`tables[${i}].target needs schema and table`);
      if (!['clone', 'append', 'history'].includes(t?.type)) {
        problems.push(
          `tables[${i}].type must be clone, append or history (got ${String(t?.type)})`,
        );
      }
    });
  }
  const workers = positiveInt('workers', o.workers, 4, problems);
  const batchRows = positiveInt('batchRows', o.batchRows, 5_000, problems);
  const tableLanes = positiveInt('tableLanes', o.tableLanes, Math.min(2, workers), problems);
  if (tableLanes > workers)
    problems.push(`tableLanes (${tableLanes}) must not exceed workers (${workers})`);
  const resolved: ResolvedOptions = {
    metadataSchema: o.metadataSchema ?? 'kuvasz',
    workers,
    tableLanes,
    batchRows,
    flushIntervalMs: positiveInt('flushIntervalMs', o.flushIntervalMs, 20, problems),
    maxPendingRows: positiveInt('maxPendingRows', o.maxPendingRows, batchRows, problems),
    retry: {
      attempts: positiveInt('retry.attempts', o.retry?.attempts, 20, problems),
      initialMs: positiveInt('retry.initialMs', o.retry?.initialMs, 100, problems),
      maxMs: positiveInt('retry.maxMs', o.retry?.maxMs, 5_000, problems),
    },
    synchronousCommit: o.synchronousCommit ?? 'on',
  };
  if (resolved.synchronousCommit !== 'on' && resolved.synchronousCommit !== 'off') {
    problems.push(`synchronousCommit must be 'on' or 'off'`);
  }
  if (!resolved.metadataSchema) problems.push('metadataSchema must not be empty');
  if (problems.length > 0) {
    throw new ApplyError('invalid_options', `invalid ApplyEngine options: ${problems.join('; ')}`);
  }
  return resolved;
}
