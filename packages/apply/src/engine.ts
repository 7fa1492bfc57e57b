import {
  displayName,
  ensureMetadataSchema,
  formatLsn,
  type LeaseFence,
  type Logger,
  linkTables,
  loadForeignKeys,
  noopLogger,
  quoteIdent,
} from '@kuvasz/core';
import type pg from 'pg';
import type { SourceId, SourceRelation, SourceTransaction } from './change.js';
import { ApplyError, TargetError, toError } from './errors.js';
import { logEvents } from './event-log.js';
import type { StepName } from './executor/destination-tx.js';
import {
  CrashSignal,
  Executor,
  type ExecutorMetrics,
  type GroupResult,
} from './executor/executor.js';
import { TableStatistics } from './executor/table-statistics.js';
import { WalFlushWaiter } from './executor/wal-flush.js';
import { coveredByLanes, LegacyPositions } from './intake/legacy-positions.js';
import {
  mappingKey,
  type RoutedChange,
  Router,
  type TableWatermark,
  targetKey,
} from './intake/router.js';
import { type QueuedPart, SourceLedger, sourceKey, sourceLabel } from './intake/source-ledger.js';
import {
  type LanePositions,
  loadLanePositions,
  loadLegacyDurable,
  loadSourcePosition,
  loadSourcePositions,
  type SourcePosition,
  sourceKeyOf,
} from './metadata/position-store.js';

import type { ApplyEngineOptions, ResolvedOptions, TableMapping } from './options.js';
import { resolveOptions } from './options.js';
import { COPY_MIN_ROWS } from './planner/program.js';
import { type StatEntry, Stats } from './stats.js';
import { validateTarget } from './target/target-ddl.js';
import { loadTargetInfo, type TargetInfo } from './target/target-meta.js';

export type { TableWatermark } from './intake/router.js';

export interface SourceStatus {
  state: 'running' | 'failed';
  error?: ApplyError;
  /** Last LSN reported durable, if any. */
  durableLsn?: bigint;
  /** Commit LSN of the last source transaction in the destination, if known. */
  appliedLsn?: bigint;
  /** Changes pushed and not yet applied. */
  queuedChanges: number;
}

export type DurableListener = (source: SourceId, lsn: bigint) => void;
export type SourceFailedListener = (source: SourceId, error: ApplyError) => void;

/** Counters for dashboards and benchmarks (`engine.metrics()`). */
export interface ApplyMetrics extends ExecutorMetrics {
  /** Changes pushed and not yet applied, over all sources. */
  queuedChanges: number;
  /** Sources seen, and how many of them are stopped. */
  sources: number;
  failedSources: number;
}

/** Internal, for this package's tests: crash points and the COPY threshold. */
export interface InternalOptions {
  testHooks?: { step?: (name: StepName, worker: number) => void | Promise<void> };
  /** Inserts of at least this many rows go by COPY (default COPY_MIN_ROWS); tests force either path. */
  copyMinRows?: number;
  /** Updates and deletes of at least this many rows are staged by COPY (default COPY_MIN_ROWS). */
  stageMinRows?: number;
  /** A destination transaction running longer is logged (default SLOW_GROUP_MS). */
  slowGroupMs?: number;
}

/** Options objects the test entry point registered internal options for (never part of the public type). */
const internals = new WeakMap<object, InternalOptions>();

/** Test entry point: `new ApplyEngine(withInternals(options, { testHooks }))`. */
export function withInternals<T extends object>(options: T, internal: InternalOptions): T {
  internals.set(options, internal);
  return options;
}

/** Resolves every waiter on `notify()`; waiters re-check their own condition. */
class Progress {
  private waiters: (() => void)[] = [];
  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/**
 * Applies committed source transactions to the destination as clone, append
 * or history tables, exactly once, each source's transactions whole and in
 * commit order. See the README for the contract, the semantics and the error
 * policy.
 */
export class ApplyEngine {
  private readonly opts: ResolvedOptions;
  private readonly pool: pg.Pool;
  private readonly log: Logger;
  private readonly internal: InternalOptions;
  private readonly statistics: TableStatistics;
  private readonly mappings = new Map<string, TableMapping[]>();
  private readonly targets = new Map<string, TargetInfo>();
  private readonly ledgers = new Map<string, SourceLedger>();
  private readonly durableListeners = new Set<DurableListener>();
  private readonly failedListeners = new Set<SourceFailedListener>();
  private readonly stat = new Stats();
  private readonly progress = new Progress();
  private readonly router: Router;
  private readonly durableChains = new Map<SourceLedger, Promise<void>>();
  private executor: Executor | undefined;
  private positions = new Map<string, SourcePosition>();
  private lanePositions = new Map<string, Map<string, LanePositions>>();
  private flushWaiter: WalFlushWaiter | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private watching = false;
  private readonly addsColumns: boolean;
  private state: 'new' | 'starting' | 'running' | 'closing' | 'closed' | 'crashed' = 'new';

  constructor(options: ApplyEngineOptions) {
    this.opts = resolveOptions(options);
    this.internal = internals.get(options) ?? {};
    this.pool = options.destination;
    this.log = (options.logger ?? noopLogger).child({ component: 'apply' });
    this.statistics = new TableStatistics(this.pool, this.log);
    for (const t of options.tables) {
      const k = mappingKey(t.source.database, t.source.schema, t.source.table);
      const list = this.mappings.get(k) ?? [];
      list.push(t);
      this.mappings.set(k, list);
    }
    this.router = new Router(this.mappings, this.targets, this.stat, this.log);
    this.addsColumns = options.tables.some((t) => t.schemaChanges === 'add_columns');
  }

  /**
   * Checks every target table, creates or migrates the metadata schema,
   * loads the stored positions and starts the workers. Throws a TargetError
   * listing every problem with the targets.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new ApplyError('engine_state', 'start() was already called');
    this.state = 'starting';
    const client = await this.pool.connect();
    let stageMinRows = Number.POSITIVE_INFINITY;
    try {
      await this.loadTargets(client);
      await ensureMetadataSchema(client, this.opts.metadataSchema);
      this.positions = await loadSourcePositions(client, this.opts.metadataSchema);
      this.lanePositions = await loadLanePositions(client, this.opts.metadataSchema);
      stageMinRows = await this.stagingThreshold(client);
    } catch (e) {
      this.state = 'new';
      throw e;
    } finally {
      client.release();
    }
    this.executor = new Executor(
      {
        pool: this.pool,
        logger: this.log,
        workers: this.opts.workers,
        batchRows: this.opts.batchRows,
        flushIntervalMs: this.opts.flushIntervalMs,
        retry: this.opts.retry,
        metadataSchema: this.opts.metadataSchema,
        synchronousCommit: this.opts.synchronousCommit,
        copyMinRows: this.internal.copyMinRows ?? COPY_MIN_ROWS,
        stageMinRows,
        statistics: this.statistics,
        slowGroupMs: this.internal.slowGroupMs,
        hook: this.internal.testHooks?.step,
      },
      {
        committed: (ledger, parts, position, result) =>
          this.committed(ledger, parts, position, result),
        failed: (ledger, error) => this.failSource(ledger, error),
        crashed: (e) => this.crash(e),
        taken: () => this.progress.notify(),
      },
    );
    this.executor.start();
    if (this.opts.synchronousCommit === 'off') this.flushWaiter = new WalFlushWaiter(this.pool);
    // Source columns the target lacks are filled as soon as the target has them: no
    // notification exists for another session's DDL, so those targets are re-read.
    this.watchTimer = setInterval(() => void this.watchLackingTargets(), TARGET_WATCH_MS);
    this.watchTimer.unref();
    this.state = 'running';
    this.log.info(
      { targets: this.targets.size, workers: this.opts.workers, batchRows: this.opts.batchRows },
      'apply engine started',
    );
  }

  /**
   * Large batches of updates and deletes are staged in temporary tables
   * (see `Staged`), which needs the TEMP privilege on the destination
   * database (PUBLIC has it unless revoked). Without it they go as array
   * literals, as small batches always do.
   */
  private async stagingThreshold(client: pg.PoolClient): Promise<number> {
    const res = await client.query<{ temp: boolean }>(
      "SELECT has_database_privilege(current_database(), 'TEMP') AS temp",
    );
    if (res.rows[0]?.temp) return this.internal.stageMinRows ?? COPY_MIN_ROWS;
    this.log.info(
      {},
      'no TEMP privilege on the destination database: large batches of updates and deletes go as array literals instead of COPY (GRANT TEMP ON DATABASE <destination> TO <user> to enable it)',
    );
    return Number.POSITIVE_INFINITY;
  }

  private async loadTargets(client: pg.PoolClient): Promise<void> {
    const problems: string[] = [];
    const byTarget = new Map<
      string,
      { ref: TableMapping['target']; type: TableMapping['type']; databases: Set<string> }
    >();
    for (const list of this.mappings.values()) {
      for (const m of list) {
        const k = targetKey(m.target);
        const e = byTarget.get(k);
        if (!e)
          byTarget.set(k, { ref: m.target, type: m.type, databases: new Set([m.source.database]) });
        else {
          e.databases.add(m.source.database);
          if (e.type !== m.type) {
            problems.push(
              `target ${displayName(m.target)} is mapped as both ${e.type} and ${m.type}; a target table has one type`,
            );
          }
        }
      }
    }
    for (const [k, e] of byTarget) {
      const { info, description } = await loadTargetInfo(client, e.ref, e.type);
      problems.push(
        ...validateTarget(description, {
          target: e.ref,
          type: e.type,
          requireSid: e.databases.size > 1,
        }),
      );
      if (info) this.targets.set(k, info);
    }
    if (problems.length > 0) throw new TargetError(problems);
    // Foreign keys between clone / append targets order the statements of a group (group-plan.ts).
    const ordered = [...this.targets.values()].filter((t) => t.type !== 'history');
    const byOid = new Map(ordered.map((t) => [t.description.oid, t]));
    const edges = await loadForeignKeys(client, [...byOid.keys()]);
    const links = linkTables(
      ordered,
      edges.map((e) => ({ child: byOid.get(e.child)!, parent: byOid.get(e.parent)! })),
    );
    for (const [t, l] of links) t.links = l;
  }

  private ledger(id: SourceId): SourceLedger {
    const k = sourceKey(id);
    let l = this.ledgers.get(k);
    if (!l) {
      l = new SourceLedger({ database: id.database, sid: id.sid });
      const sk = sourceKeyOf(id.database, id.sid);
      l.applied = this.positions.get(sk);
      const lanes = this.lanePositions.get(sk);
      if (lanes) l.legacy = new LegacyPositions(lanes);
      this.ledgers.set(k, l);
    }
    return l;
  }

  private async watchLackingTargets(): Promise<void> {
    const lacking = this.router.lackingTargets();
    if (lacking.size === 0 || this.watching || this.state !== 'running') return;
    this.watching = true;
    try {
      await this.refreshTargets(lacking);
    } catch (e) {
      this.log.warn({ err: toError(e) }, 'could not re-read the target tables');
    } finally {
      this.watching = false;
    }
  }

  /**
   * Re-reads targets (a column added, a type altered by whoever fixed a
   * refused change): units plan with their new columns from the next change
   * on. The TargetInfo objects stay the same (the foreign-key links hold them).
   */
  private async refreshTargets(targets: Iterable<TargetInfo>): Promise<void> {
    const client = await this.pool.connect();
    try {
      for (const t of targets) {
        const { info } = await loadTargetInfo(client, t.ref, t.type);
        // Dropped meanwhile: statements fail and say so.
        if (!info || shapeOf(info) === shapeOf(t)) continue;
        const added = [...info.columns.keys()].filter((c) => !t.columns.has(c));
        t.columns = info.columns;
        t.sid = info.sid;
        t.uniqueKeys = info.uniqueKeys;
        t.primaryKey = info.primaryKey;
        t.indexes = info.indexes;
        t.description = info.description;
        this.router.invalidateTarget(t);
        this.log.info(
          { table: t.display, added },
          'target table changed: its columns are used from the next change on',
        );
      }
    } finally {
      client.release();
    }
  }

  /**
   * `schemaChanges: 'add_columns'`: a relation seen for the first time that
   * has columns its target lacks gets them added to the target (nullable,
   * the source's type) before any of its rows is routed. Types that are not
   * built in (their OIDs differ between servers) are left to the user, said
   * once.
   */
  private async addNewColumns(ledger: SourceLedger, tx: SourceTransaction): Promise<void> {
    if (!this.addsColumns) return;
    for (const change of tx.changes) {
      if (change.op === 'truncate' || ledger.seenRelations.has(change.relation)) continue;
      const relation = change.relation;
      ledger.seenRelations.add(relation);
      const maps = this.mappings.get(
        mappingKey(ledger.id.database, relation.schema, relation.table),
      );
      for (const m of maps ?? []) {
        if (m.schemaChanges !== 'add_columns') continue;
        const target = this.targets.get(targetKey(m.target));
        if (!target) continue;
        const missing = relation.columns.filter(
          (c) => !target.columns.has(c.name) && c.name !== 'sid' && !c.name.startsWith('kvsz_'),
        );
        if (missing.length === 0) continue;
        const builtIn = missing.filter((c) => c.typeOid < FIRST_USER_OID);
        const other = missing.filter((c) => c.typeOid >= FIRST_USER_OID);
        if (other.length > 0) {
          this.log.warn(
            { source: ledger.label, table: target.display, columns: other.map((c) => c.name) },
            'new source columns of types that are not built in: add them to the target yourself (left out until then)',
          );
        }
        if (builtIn.length === 0) continue;
        await addColumns(this.pool, target, builtIn);
        this.log.info(
          { source: ledger.label, table: target.display, columns: builtIn.map((c) => c.name) },
          'new source columns added to the target',
        );
        await this.refreshTargets([target]);
      }
    }
  }

  /** Every target a source database feeds. */
  private targetsOf(database: string): Set<TargetInfo> {
    const out = new Set<TargetInfo>();
    for (const list of this.mappings.values())
      for (const m of list)
        if (m.source.database === database) {
          const t = this.targets.get(targetKey(m.target));
          if (t) out.add(t);
        }
    return out;
  }

  /** Registers a listener for durable positions; returns a function that removes it. */
  onDurable(listener: DurableListener): () => void {
    this.durableListeners.add(listener);
    return () => this.durableListeners.delete(listener);
  }

  /**
   * Registers a listener called once when a source stops (a change the
   * destination refused, a change that cannot be mapped, the destination
   * unreachable through every retry); returns a function that removes it.
   */
  onSourceFailed(listener: SourceFailedListener): () => void {
    this.failedListeners.add(listener);
    return () => this.failedListeners.delete(listener);
  }

  private assertRunning(what: string): void {
    if (this.state !== 'running') {
      throw new ApplyError(
        'engine_state',
        this.state === 'crashed'
          ? `${what}: the apply engine stopped after an internal error; create a new engine`
          : `${what}: the apply engine is ${this.state}; call start() first and do not use it after close()`,
      );
    }
  }

  /**
   * Accepts a committed transaction (or one part of it). Resolves once it is
   * queued; waits first while too many changes of this source (or of all
   * sources) are queued. Rejects with the source's error once that source
   * has failed.
   */
  async push(tx: SourceTransaction): Promise<void> {
    this.assertRunning('push');
    const ledger = this.ledger(tx.source);
    if (ledger.state === 'failed') {
      throw new ApplyError(
        'source_failed',
        `${ledger.label} is stopped: ${ledger.error?.message ?? 'failed'}`,
        { cause: ledger.error, source: ledger.label },
      );
    }
    if (ledger.released) {
      throw new ApplyError(
        'lease_lost',
        `${ledger.label} was released by releaseSource(); claimSource() it before pushing its changes again`,
        { source: ledger.label },
      );
    }
    validateTx(tx, ledger);
    if (ledger.targetsStale) {
      // A retry after a refused change: the target may have been fixed (a type altered).
      ledger.targetsStale = false;
      await this.refreshTargets(this.targetsOf(ledger.id.database));
    }
    await this.addNewColumns(ledger, tx);
    const final = tx.final ?? true;
    const first = tx.firstChangeIndex ?? 0;
    const from = ledger.newFrom(tx.commitLsn, first, tx.changes.length);
    if (from === undefined) return; // re-pushed: queued or applied already
    if (ledger.openTx !== undefined && ledger.openTx !== tx.commitLsn) {
      throw new ApplyError(
        'invalid_input',
        `${ledger.label}: transaction ${formatLsn(tx.commitLsn)} arrived before the final part of ${formatLsn(ledger.openTx)}; push the parts of a transaction in order, the last with final: true`,
        { source: ledger.label, lsn: formatLsn(tx.commitLsn) },
      );
    }
    ledger.openTx = final ? undefined : tx.commitLsn;
    ledger.routed(tx.commitLsn, first + tx.changes.length);
    if (ledger.isApplied(tx.commitLsn)) {
      // Already in the destination (a replay): only its acknowledgement is owed, in order.
      if (final) this.enqueue(ledger, tx, []);
      return this.backpressure(ledger);
    }
    const time = typeof tx.commitTime === 'string' ? tx.commitTime : tx.commitTime.toISOString();
    let changes: RoutedChange[] = [];
    try {
      for (let i = from - first; i < tx.changes.length; i++)
        this.router.route(ledger, tx.commitLsn, first + i, time, tx.changes[i]!, changes);
    } catch (e) {
      const err =
        e instanceof ApplyError
          ? e
          : new ApplyError('invalid_input', toError(e).message, { cause: e });
      this.failSource(ledger, err);
      throw err;
    }
    // A history transaction is planned whole: its changes wait for the final part.
    if (!final) {
      const rest: RoutedChange[] = [];
      for (const c of changes)
        (c.unit.target.type === 'history' ? ledger.heldHistory : rest).push(c);
      changes = rest;
    } else if (ledger.heldHistory.length > 0) {
      changes = [...ledger.heldHistory, ...changes];
      ledger.heldHistory = [];
    }
    if (ledger.legacy && tx.commitLsn <= ledger.legacy.lastLsn)
      changes = this.skipLaneCovered(ledger.legacy, changes);
    if (final || changes.length > 0) this.enqueue(ledger, tx, changes);
    return this.backpressure(ledger);
  }

  private enqueue(ledger: SourceLedger, tx: SourceTransaction, changes: RoutedChange[]): void {
    const part: QueuedPart = {
      commitLsn: tx.commitLsn,
      endLsn: tx.endLsn ?? tx.commitLsn,
      final: tx.final ?? true,
      changes,
      queuedAt: Date.now(),
    };
    ledger.enqueue(part);
    this.executor!.scheduler.wake(ledger);
  }

  /** Drops the changes the engine before ordered apply already wrote (see legacy-positions.ts). */
  private skipLaneCovered(legacy: LegacyPositions, changes: RoutedChange[]): RoutedChange[] {
    const byUnit = new Map<string, RoutedChange[]>();
    for (const c of changes) {
      const list = byUnit.get(c.unit.key);
      if (list) list.push(c);
      else byUnit.set(c.unit.key, [c]);
    }
    const skip = new Set<RoutedChange>();
    for (const list of byUnit.values()) {
      const lanes = legacy.of(list[0]!.unit.targetKey);
      if (!lanes) continue;
      const planned = list.filter((c) => c.item !== undefined);
      const covered = coveredByLanes(
        planned.map((c) => ({ item: c.item!, lsn: c.lsn, index: c.index })),
        lanes,
        list[0]!.unit.target.type === 'history',
      );
      planned.forEach((c, i) => {
        if (covered[i]) skip.add(c);
      });
    }
    return skip.size === 0 ? changes : changes.filter((c) => !skip.has(c));
  }

  /** Waits while this source has too much queued, or all sources together do. */
  private async backpressure(ledger: SourceLedger): Promise<void> {
    const perSource = this.opts.maxPendingRows;
    const total = perSource * (this.opts.workers + 1);
    while (this.state === 'running' && ledger.state === 'running') {
      if (ledger.queued <= perSource && (ledger.queued === 0 || this.queuedTotal() <= total))
        return;
      // Under backpressure nothing waits for its linger: a queue below batchRows would sit idle.
      ledger.flushRequested = true;
      this.executor!.scheduler.wake(ledger);
      await this.progress.wait();
    }
  }

  private queuedTotal(): number {
    let n = 0;
    for (const l of this.ledgers.values()) n += l.queued;
    return n;
  }

  private committed(
    ledger: SourceLedger,
    parts: QueuedPart[],
    position: SourcePosition | undefined,
    result: GroupResult | undefined,
  ): void {
    ledger.done(parts, position);
    if (position && ledger.legacy && position.commitLsn >= ledger.legacy.lastLsn)
      ledger.legacy = undefined;
    if (result) this.account(result);
    const finals = parts.filter((p) => p.final);
    if (finals.length > 0) {
      const lsn = finals[finals.length - 1]!.endLsn;
      const epoch = ledger.epoch;
      const waiter = this.flushWaiter;
      const walLsn = result?.walLsn;
      const prev = this.durableChains.get(ledger) ?? Promise.resolve();
      const next = prev
        .then(() => (waiter && walLsn ? waiter.wait(walLsn) : undefined))
        .then(
          () => {
            if (ledger.epoch === epoch) this.reportDurable(ledger, lsn, finals.length);
          },
          (e: unknown) => this.crash(e),
        );
      this.durableChains.set(ledger, next);
    }
    this.progress.notify();
  }

  private reportDurable(ledger: SourceLedger, lsn: bigint, finals: number): void {
    if (this.state === 'crashed') return;
    ledger.settleFinal(finals);
    if (ledger.durable === undefined || lsn > ledger.durable) {
      ledger.durable = lsn;
      for (const l of this.durableListeners) {
        try {
          l(ledger.id, lsn);
        } catch (e) {
          this.log.error({ err: toError(e), source: ledger.label }, 'onDurable listener threw');
        }
      }
    }
    this.progress.notify();
  }

  /** Counters per (table, operation, result), logged conflicts, rows added for ANALYZE. */
  private account(result: GroupResult): void {
    const tally = result.tally.settle();
    for (const e of tally.counts.snapshot())
      this.stat.add(e.database, e.sid, e.table, e.operation, e.result, e.count);
    for (const [target, rows] of tally.grown) this.statistics.added(target, rows);
    this.statistics.kick();
    logEvents(this.log, tally.events, tally.more);
  }

  private failSource(ledger: SourceLedger, error: ApplyError): void {
    if (ledger.state === 'failed') return;
    ledger.fail(error);
    if (error.code === 'lease_lost') {
      // A fleet's hand-over, not a fault: the new owner replays from the stored position.
      this.log.warn({ source: ledger.label, err: error }, 'source fenced off: its lease was lost');
    } else
      this.log.error(
        {
          source: ledger.label,
          table: error.table,
          key: error.key,
          lsn: error.lsn,
          sqlstate: error.sqlstate,
          code: error.code,
          err: error,
        },
        'source stopped: its durable position stays before the failing transaction',
      );
    for (const l of this.failedListeners) {
      try {
        l(ledger.id, error);
      } catch (e) {
        this.log.error({ err: toError(e), source: ledger.label }, 'onSourceFailed listener threw');
      }
    }
    this.progress.notify();
  }

  private crash(e: unknown): void {
    if (this.state === 'crashed') return;
    this.state = 'crashed';
    if (!(e instanceof CrashSignal)) this.log.error({ err: toError(e) }, 'apply engine crashed');
    this.executor?.crash(e);
    for (const l of this.ledgers.values()) l.interrupt();
    this.progress.notify();
  }

  /** Position recorded in the destination (a safe restart point), if any. */
  async storedPosition(source: SourceId): Promise<bigint | undefined> {
    const p = await loadSourcePosition(
      this.pool,
      this.opts.metadataSchema,
      source.database,
      source.sid,
    );
    if (p) return p.endLsn;
    return loadLegacyDurable(this.pool, this.opts.metadataSchema, source.database, source.sid);
  }

  /**
   * Watermarks of one source table, set after its initial copy: changes
   * committed before `skipBefore` are dropped, before `reconcileBefore`
   * applied idempotently and quietly.
   */
  setTableWatermark(
    source: SourceId,
    table: { schema: string; table: string },
    watermark: TableWatermark,
  ): void {
    this.router.setWatermark(this.ledger(source), table, watermark);
  }

  sourceStatus(source: SourceId): SourceStatus {
    const l = this.ledgers.get(sourceKey(source));
    if (!l) {
      const p = this.positions.get(sourceKeyOf(source.database, source.sid));
      return { state: 'running', queuedChanges: 0, ...(p ? { appliedLsn: p.commitLsn } : {}) };
    }
    const out: SourceStatus = { state: l.state, queuedChanges: l.queued };
    if (l.error) out.error = l.error;
    if (l.durable !== undefined) out.durableLsn = l.durable;
    if (l.applied) out.appliedLsn = l.applied.commitLsn;
    return out;
  }

  /**
   * Clears a source so that it can be replayed from its last durable LSN:
   * after a failure (the target was fixed), or when its reader restarts.
   * Queued changes (and an open large transaction) are dropped; what is in
   * the destination stays and replays skip it.
   */
  resumeSource(source: SourceId): void {
    this.assertRunning('resumeSource');
    const l = this.ledgers.get(sourceKey(source));
    if (!l) return;
    const wasFailed = l.state === 'failed';
    l.reset();
    l.targetsStale = true;
    this.durableChains.delete(l);
    if (wasFailed) this.log.info({ source: l.label }, 'source resumed');
    this.progress.notify();
  }

  /**
   * Takes a source over in a fleet, after its lease was taken at `fence`:
   * its stored position is read again (another instance may have applied
   * more of it since this engine started), whatever was queued is dropped,
   * and from now on every destination transaction of the source commits
   * only while `fence` still holds the lease. The reader then streams from
   * `storedPosition()`.
   */
  async claimSource(source: SourceId, fence: LeaseFence): Promise<void> {
    this.assertRunning('claimSource');
    const l = this.ledger(source);
    const stored = await loadSourcePosition(
      this.pool,
      this.opts.metadataSchema,
      source.database,
      source.sid,
    );
    l.reset();
    l.applied = stored;
    l.durable = undefined;
    l.fence = fence;
    l.released = false;
    l.targetsStale = true;
    this.durableChains.delete(l);
    this.progress.notify();
  }

  /**
   * Gives a source up (its lease was released or lost): what is queued is
   * dropped, and pushes are refused until it is claimed again. Call it once
   * the reader has stopped (after a flush, for a clean hand-over).
   */
  releaseSource(source: SourceId): void {
    this.assertRunning('releaseSource');
    const l = this.ledgers.get(sourceKey(source));
    if (!l) return;
    l.reset();
    l.released = true;
    this.durableChains.delete(l);
    this.progress.notify();
  }

  /**
   * Resolves once everything pushed so far (final transactions) is durable,
   * or its source failed; with `source`, that source's only (the others may
   * go on streaming meanwhile).
   */
  async flush(source?: SourceId): Promise<void> {
    this.assertRunning('flush');
    await this.drain(source);
  }

  private async drain(source?: SourceId): Promise<void> {
    const only = source ? this.ledgers.get(sourceKey(source)) : undefined;
    if (source && !only) return;
    for (;;) {
      if (this.state === 'crashed')
        throw new ApplyError('engine_state', 'flush: the apply engine crashed');
      let busy = false;
      for (const l of only ? [only] : this.ledgers.values()) {
        if (l.state !== 'running' || l.idle()) continue;
        busy = true;
        if (!l.flushRequested) {
          l.flushRequested = true;
          this.executor!.scheduler.wake(l);
        }
      }
      if (!busy) return;
      await this.progress.wait();
    }
  }

  stats(): StatEntry[] {
    return this.stat.snapshot();
  }

  /** Supported counters: groups, transactions and changes applied, time spent, fallbacks, queues. */
  metrics(): ApplyMetrics {
    let queued = 0;
    let failed = 0;
    for (const l of this.ledgers.values()) {
      queued += l.queued;
      if (l.state === 'failed') failed++;
    }
    const base: ExecutorMetrics = this.executor?.metrics() ?? {
      groups: 0,
      transactions: 0,
      changes: 0,
      busyMs: [],
      splits: 0,
      exactRuns: 0,
      shared: 0,
    };
    return { ...base, queuedChanges: queued, sources: this.ledgers.size, failedSources: failed };
  }

  /** Applies what is queued, returns the connections. Leaves the pool open. */
  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'new') {
      this.state = 'closed';
      return;
    }
    const crashed = this.state === 'crashed';
    if (this.state === 'running') {
      this.state = 'closing';
      // Crashed meanwhile: everything below stops at once.
      await this.drain().catch(() => undefined);
    }
    // An open large transaction cannot complete: its destination transaction is rolled back.
    for (const l of this.ledgers.values()) if (l.openTx !== undefined) l.reset();
    if (this.watchTimer) clearInterval(this.watchTimer);
    await this.executor?.stop();
    await this.statistics.idle();
    if (!crashed) await Promise.all(this.durableChains.values());
    this.flushWaiter?.stop();
    this.state = crashed || this.state === 'crashed' ? 'crashed' : 'closed';
    this.progress.notify();
    this.log.info({}, 'apply engine closed');
  }
}

/** OIDs below this are built into every PostgreSQL: the destination names them as the source does. */
const FIRST_USER_OID = 16384;

async function addColumns(
  pool: pg.Pool,
  target: TargetInfo,
  columns: SourceRelation['columns'],
): Promise<void> {
  const client = await pool.connect();
  try {
    for (const c of columns) {
      const res = await client.query<{ t: string }>('SELECT format_type($1::oid, $2::int) AS t', [
        c.typeOid,
        c.typeModifier !== undefined && c.typeModifier >= 0 ? c.typeModifier : null,
      ]);
      await client.query(
        `ALTER TABLE ${target.qualified} ADD COLUMN IF NOT EXISTS ${quoteIdent(c.name)} ${res.rows[0]!.t}`,
      );
    }
  } finally {
    client.release();
  }
}

/** How often targets lacking some source column are re-read (see watchLackingTargets). */
const TARGET_WATCH_MS = 2_000;

/** What of a target the statements depend on: columns with their types, keys, indexes. */
function shapeOf(t: TargetInfo): string {
  return JSON.stringify([
    [...t.columns.values()].map((c) => [c.name, c.type, c.generated, c.identityAlways]),
    t.uniqueKeys,
    t.indexes,
  ]);
}

function validateTx(tx: SourceTransaction, ledger: SourceLedger): void {
  const bad = (what: string) =>
    new ApplyError(
      'invalid_input',
      `${sourceLabel(tx.source ?? { database: '?', sid: '?' })}: ${what}`,
      { source: ledger.label },
    );
  if (typeof tx.commitLsn !== 'bigint') throw bad('commitLsn must be a bigint');
  if (tx.endLsn !== undefined && typeof tx.endLsn !== 'bigint')
    throw bad('endLsn must be a bigint');
  if (!Array.isArray(tx.changes)) throw bad('changes must be an array');
  if (typeof tx.commitTime !== 'string' && !(tx.commitTime instanceof Date)) {
    throw bad('commitTime must be a timestamptz string or a Date');
  }
  const first = tx.firstChangeIndex ?? 0;
  if (!Number.isInteger(first) || first < 0)
    throw bad('firstChangeIndex must be a non-negative integer');
}
