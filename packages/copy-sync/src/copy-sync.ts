import {
  displayName,
  formatLsn,
  type Logger,
  leaseCheckSql,
  noopLogger,
  tableKey,
} from '@kuvasz/core';
import type pg from 'pg';
import { DEFAULT_CHUNK_PAGES } from './chunk-plan.js';
import { type CopyOrder, copyOrder, ONE_CHUNK_PAGES } from './copy-order.js';
import { CopyError, CopySyncError, SyncFailedError } from './errors.js';
import { MetadataStore } from './metadata-store.js';
import type { RowRateLimit } from './rate-limit.js';
import { ReaderPool } from './reader-pool.js';
import { ident } from './sql.js';
import type { TableRunContext } from './table-context.js';
import { syncTable } from './table-sync.js';
import type {
  AcquiredSnapshot,
  CopySyncOptions,
  SourceId,
  SyncSourceOptions,
  TableRef,
  TableSpec,
  TableState,
  TableSyncResult,
} from './types.js';

const TYPES = new Set(['clone', 'append', 'history']);

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new CopySyncError(
      'invalid_options',
      `${name} must be a positive integer, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * COPY-based initial and re-sync of a source's tables into the destination,
 * consistent with a logical replication slot's snapshot. See the README for
 * the consistency method, the resume semantics and the connection budget.
 */
export class CopySync {
  private readonly pool: pg.Pool;
  private readonly store: MetadataStore;
  private readonly parallelTables: number;
  private readonly readers: number;
  private readonly chunkPages: number;
  private readonly progressIntervalMs: number;
  private readonly rateLimit: RowRateLimit | undefined;
  private readonly logger: Logger;

  constructor(options: CopySyncOptions) {
    if (!options || typeof options.destination?.connect !== 'function') {
      throw new CopySyncError(
        'invalid_options',
        'destination must be a pg.Pool of the destination database',
      );
    }
    const schema = options.metadataSchema ?? 'kuvasz';
    if (typeof schema !== 'string' || schema.length === 0 || schema.length > 63) {
      throw new CopySyncError(
        'invalid_options',
        `metadataSchema must be a name of 1 to 63 characters, got '${String(schema)}'`,
      );
    }
    this.pool = options.destination;
    this.store = new MetadataStore(this.pool, schema);
    this.parallelTables = positiveInt('parallelTables', options.parallelTables, 2);
    this.readers = positiveInt('readers', options.readers, this.parallelTables);
    this.chunkPages = positiveInt('chunkPages', options.chunkPages, DEFAULT_CHUNK_PAGES);
    this.progressIntervalMs = options.progressIntervalMs ?? 250;
    this.rateLimit = options.rateLimit;
    this.logger = options.logger ?? noopLogger;
  }

  /**
   * Copies `tables` of one source. Opens `readers` source connections that
   * all import the snapshot before `onSnapshotImported` fires, copies up to
   * `parallelTables` tables at once, and returns each table's watermarks.
   * Tables already synced (state 'done') are returned from their state
   * without copying; `forget` them first to copy them again. When some tables
   * fail, the others still finish and a `SyncFailedError` lists the failures
   * and carries the results.
   */
  private async orderOf(tables: TableSpec[]): Promise<CopyOrder> {
    const client = await this.pool.connect();
    try {
      return await copyOrder(
        client,
        tables.map((t) => t.target),
      );
    } finally {
      client.release();
    }
  }

  async syncSource(options: SyncSourceOptions): Promise<TableSyncResult[]> {
    validateSync(options);
    const { source, tables, signal } = options;
    const sourceId: SourceId = { database: source.database, sid: source.sid };
    const log = this.logger.child({ database: source.database, sid: source.sid });
    if (signal?.aborted) throw aborted(signal.reason);
    await this.store.ensure();

    const states = new Map(
      (await this.store.loadAll(sourceId)).map((s) => [pairKey(s.table, s.target), s]),
    );
    const isDone = (t: TableSpec): boolean => {
      const s = states.get(pairKey(t.source, t.target));
      return s?.status === 'done' && s.type === t.type;
    };
    const toCopy = tables.filter((t) => !isDone(t));

    let acquired: AcquiredSnapshot | undefined;
    let readers: ReaderPool | undefined;
    const releaseAcquired = async (): Promise<void> => {
      const a = acquired;
      acquired = undefined;
      if (a)
        await a
          .release()
          .catch((e: unknown) => log.warn({ err: e }, 'releasing the acquired snapshot failed'));
    };
    try {
      let snapshot = options.snapshot;
      if (toCopy.length > 0) {
        if (!snapshot) {
          // validateSync guarantees acquireSnapshot here.
          try {
            acquired = await (options.acquireSnapshot as () => Promise<AcquiredSnapshot>)();
          } catch (e: unknown) {
            throw new CopySyncError(
              'snapshot_import_failed',
              `acquireSnapshot failed for ${source.database}/${source.sid}: ${e instanceof Error ? e.message : String(e)}`,
              { cause: e },
            );
          }
          snapshot = acquired;
        }
        const size = this.readers;
        readers = await ReaderPool.open({
          connectionString: source.connectionString,
          size,
          snapshotName: snapshot.name,
          logger: log,
        });
        log.info(
          { readers: size, snapshot: snapshot.name, lsn: formatLsn(snapshot.lsn) },
          'snapshot imported',
        );
      }
      // The readers hold the snapshot now: the exporter may move on.
      await releaseAcquired();
      options.onSnapshotImported?.();
      if (!readers || !snapshot) {
        return tables.map((t) => doneResult(states.get(pairKey(t.source, t.target))));
      }
      const snap = {
        name: snapshot.name,
        lsn: snapshot.lsn,
        time: snapshot.time ?? readers.snapshotTime,
      };
      const results = new Map<string, TableSyncResult>();
      const failures: CopyError[] = [];
      let abortError: CopySyncError | undefined;
      const pool = readers;
      // Referenced tables first: a table starts once every table it references is copied.
      const order = await this.orderOf(tables);
      const status: ('waiting' | 'running' | 'ok' | 'failed')[] = tables.map(() => 'waiting');
      const wake: (() => void)[] = [];
      const settle = (i: number, ok: boolean) => {
        status[i] = ok ? 'ok' : 'failed';
        for (const w of wake.splice(0)) w();
      };
      const next = async (): Promise<number | undefined> => {
        for (;;) {
          if (abortError) return undefined;
          const i = status.findIndex(
            (st, k) =>
              st === 'waiting' &&
              order.parents[k]!.every((p) => status[p] !== 'waiting' && status[p] !== 'running'),
          );
          if (i >= 0) {
            status[i] = 'running';
            return i;
          }
          if (!status.includes('waiting')) return undefined;
          await new Promise<void>((r) => wake.push(r));
        }
      };
      const worker = async (): Promise<void> => {
        for (let i = await next(); i !== undefined; i = await next()) {
          const spec = tables[i]!;
          const name = displayName(spec.source);
          if (isDone(spec)) {
            results.set(
              pairKey(spec.source, spec.target),
              doneResult(states.get(pairKey(spec.source, spec.target))),
            );
            settle(i, true);
            continue;
          }
          if (signal?.aborted) {
            abortError ??= aborted(signal.reason);
            settle(i, false);
            return;
          }
          const failedParent = order.parents[i]!.find((p) => status[p] === 'failed');
          if (failedParent !== undefined) {
            const parent = tables[failedParent]!;
            const err = new CopyError({
              table: name,
              target: displayName(spec.target),
              rowsCopied: 0,
              side: 'destination',
              message: `copy of ${name} not started: its target references ${displayName(parent.target)} (a foreign key), whose copy failed; it is copied once that one is`,
            });
            log.error({ err, table: name }, 'table copy failed');
            failures.push(err);
            settle(i, false);
            continue;
          }
          const ctx: TableRunContext = {
            spec,
            source,
            snapshot: snap,
            readers: pool,
            readerCount: this.readers,
            pool: this.pool,
            store: this.store,
            // Its own rows reference each other: one COPY, checked as a whole at its end.
            chunkPages: order.selfReferencing.has(i) ? ONE_CHUNK_PAGES : this.chunkPages,
            progressIntervalMs: this.progressIntervalMs,
            rateLimit: this.rateLimit,
            onProgress: options.onProgress,
            signal,
            logger: log,
            fence: options.fence
              ? leaseCheckSql(this.store.schema, source.database, source.sid, options.fence)
              : undefined,
          };
          let ok = false;
          try {
            results.set(pairKey(spec.source, spec.target), await syncTable(ctx));
            ok = true;
          } catch (e: unknown) {
            if (e instanceof CopyError) {
              log.error({ err: e, table: name }, 'table copy failed');
              failures.push(e);
            } else if (e instanceof CopySyncError && e.code === 'aborted') {
              abortError ??= e;
            } else {
              const err = new CopyError({
                table: name,
                target: displayName(spec.target),
                rowsCopied: 0,
                side: 'destination',
                message: `copy of ${name} failed: ${e instanceof Error ? e.message : String(e)}`,
                cause: e,
              });
              log.error({ err, table: name }, 'table copy failed');
              failures.push(err);
            }
          } finally {
            settle(i, ok);
          }
        }
      };
      await Promise.all(
        Array.from({ length: Math.min(this.parallelTables, tables.length) }, worker),
      );
      if (abortError) throw abortError;
      const ordered = tables.flatMap((t) => {
        const r = results.get(pairKey(t.source, t.target));
        return r ? [r] : [];
      });
      if (failures.length > 0) throw new SyncFailedError(failures, ordered);
      return ordered;
    } finally {
      await releaseAcquired();
      await readers?.close();
    }
  }

  /** The persisted state of every table of a source. */
  async state(source: SourceId): Promise<TableState[]> {
    const rows = await this.store.loadAll(source);
    return rows.map((s) => ({
      table: s.table,
      target: s.target,
      type: s.type,
      status: s.status,
      mode: s.mode,
      skipBefore: s.skipBefore,
      reconcileBefore: s.reconcileBefore,
      snapshotLsn: s.snapshotLsn,
      chunksDone: s.chunksDone,
      chunksTotal: s.chunksTotal,
      rows: s.rows,
      bytes: s.bytes,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
    }));
  }

  /**
   * Deletes the state of one table (or all tables) of a source, and any
   * staging table it left, so the next `syncSource` copies it from zero.
   * Rows already in the target stay (a clone re-sync replaces them, append and
   * history merge). Returns the number of tables forgotten.
   */
  async forget(source: SourceId, table?: TableRef): Promise<number> {
    await this.store.ensure();
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const gone = await this.store.forget(client, source, table);
      for (const s of gone) {
        if (s.stagingTable) {
          await client.query(
            `DROP TABLE IF EXISTS ${ident(this.store.schema)}.${ident(s.stagingTable)}`,
          );
        }
      }
      await client.query('COMMIT');
      return gone.length;
    } catch (e: unknown) {
      await client.query('ROLLBACK').catch(() => {});
      throw new CopySyncError(
        'metadata_failed',
        `cannot forget the copy state of ${source.database}/${source.sid}: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    } finally {
      client.release();
    }
  }
}

function pairKey(source: TableRef, target: TableRef): string {
  return `${tableKey(source)}\u0000${tableKey(target)}`;
}

function aborted(reason: unknown): CopySyncError {
  return new CopySyncError(
    'aborted',
    `sync aborted: ${reason instanceof Error ? reason.message : String(reason ?? 'aborted')}`,
    { cause: reason },
  );
}

function doneResult(s: TableState | undefined): TableSyncResult {
  if (!s)
    throw new CopySyncError('metadata_failed', 'copy state missing for a table reported done');
  return {
    table: s.table,
    target: s.target,
    type: s.type,
    rows: s.rows,
    bytes: s.bytes,
    skipBefore: s.skipBefore,
    ...(s.reconcileBefore === undefined ? {} : { reconcileBefore: s.reconcileBefore }),
    resumed: false,
    alreadySynced: true,
  };
}

function validateSync(o: SyncSourceOptions): void {
  const issues: string[] = [];
  const s = o?.source;
  if (!s || typeof s.connectionString !== 'string' || s.connectionString.length === 0) {
    issues.push('source.connectionString is required');
  }
  if (!s || typeof s.database !== 'string' || s.database.length === 0)
    issues.push('source.database is required');
  if (!s || typeof s.sid !== 'string' || s.sid.length === 0)
    issues.push('source.sid is required (a string)');
  if (!o.snapshot && typeof o.acquireSnapshot !== 'function') {
    issues.push("either snapshot (the slot's exported snapshot) or acquireSnapshot is required");
  }
  if (o.snapshot && (typeof o.snapshot.name !== 'string' || typeof o.snapshot.lsn !== 'bigint')) {
    issues.push('snapshot must be { name: string, lsn: bigint }');
  }
  if (!Array.isArray(o.tables)) issues.push('tables must be an array');
  const seen = new Set<string>();
  const targets = new Set<string>();
  for (const [i, t] of (Array.isArray(o.tables) ? o.tables : []).entries()) {
    const ok = (r: TableRef | undefined): boolean =>
      !!r &&
      typeof r.schema === 'string' &&
      r.schema.length > 0 &&
      typeof r.table === 'string' &&
      r.table.length > 0;
    if (!ok(t?.source)) issues.push(`tables[${i}].source needs schema and table`);
    if (!ok(t?.target)) issues.push(`tables[${i}].target needs schema and table`);
    if (!TYPES.has(t?.type))
      issues.push(`tables[${i}].type must be clone, append or history, got '${String(t?.type)}'`);
    if (ok(t?.source) && ok(t?.target)) {
      const name = pairKey(t.source, t.target);
      if (seen.has(name)) {
        issues.push(
          `tables[${i}]: ${displayName(t.source)} -> ${displayName(t.target)} is listed twice`,
        );
      }
      seen.add(name);
    }
    if (ok(t?.target)) {
      const name = tableKey(t.target);
      if (targets.has(name))
        issues.push(
          `tables[${i}]: target table ${displayName(t.target)} is listed twice for one source`,
        );
      targets.add(name);
    }
  }
  if (issues.length > 0) {
    throw new CopySyncError('invalid_options', `invalid syncSource options: ${issues.join('; ')}`);
  }
}
