import type { Logger } from '@kuvasz/core';
import type pg from 'pg';
import { ApplyError } from './errors.js';
import type { RetryOptions } from './executor/retry.js';
import type { RowRules } from './row-rules.js';
import type { TableType } from './target/target-ddl.js';

export interface TableMapping {
  source: { database: string; schema: string; table: string };
  target: { schema: string; table: string };
  type: TableType;
  /**
   * A column added to the source table: `ignore` leaves it out until the
   * target has it (default); `add_columns` adds it to the target (nullable,
   * the source's type) before the first row that carries it.
   */
  schemaChanges?: 'ignore' | 'add_columns';
  /**
   * Which rows the target keeps and which of its columns are computed (see
   * `RowRules`). Absent: every row, every value as the source sent it, and
   * none of the rules' cost.
   */
  rows?: RowRules | undefined;
}

export interface ApplyEngineOptions {
  /** App-owned pool; the engine holds up to `workers` connections from it, plus one briefly (loading positions, and ANALYZE of targets it filled: see the README). */
  destination: pg.Pool;
  /** Schema of the engine's bookkeeping tables, created (or migrated) on first use. Default `kuvasz`. */
  metadataSchema?: string;
  tables: TableMapping[];
  /**
   * Destination connections, shared by every source. A source is applied by
   * one connection at a time (its transactions commit in source order);
   * several sources run in parallel. Default 4.
   */
  workers?: number;
  /**
   * A group (one destination transaction of whole source transactions)
   * closes at this many changes; a larger source transaction is a group of
   * its own. Default 5,000.
   */
  batchRows?: number;
  /**
   * How long a partial group waits for more changes. Default 0: a source's
   * changes go as soon as its previous group is done; under load the group
   * in flight is what coalesces them (the next group takes all that queued
   * meanwhile), so waiting only adds latency. Set it to trade latency for
   * fewer, larger destination transactions (a source whose transactions
   * come further apart than this is still applied at once).
   */
  flushIntervalMs?: number;
  /**
   * `push()` waits while more changes than this are queued for its source,
   * or more than `maxPendingRows x (workers + 1)` for all sources together
   * (memory bound); meanwhile nothing waits for its flush interval. Default
   * `2 x batchRows`: the next group fills while one is applied.
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

export interface ResolvedOptions {
  metadataSchema: string;
  workers: number;
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
  least = 1,
): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < least)
    problems.push(
      `${name} must be a ${least === 0 ? 'non-negative' : 'positive'} integer (got ${String(v)})`,
    );
  return v;
}

const nonNegativeInt = (name: string, v: number | undefined, dflt: number, problems: string[]) =>
  positiveInt(name, v, dflt, problems, 0);

export function resolveOptions(o: ApplyEngineOptions): ResolvedOptions {
  const problems: string[] = [];
  if ((o as { tableLanes?: unknown }).tableLanes !== undefined) {
    problems.push(
      'tableLanes is gone: each source is applied in commit order on one connection at a time; remove it (parallelism comes from several sources sharing workers)',
    );
  }
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
  const resolved: ResolvedOptions = {
    metadataSchema: o.metadataSchema ?? 'kuvasz',
    workers,
    batchRows,
    flushIntervalMs: nonNegativeInt('flushIntervalMs', o.flushIntervalMs, 0, problems),
    maxPendingRows: positiveInt('maxPendingRows', o.maxPendingRows, 2 * batchRows, problems),
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
