import type pg from 'pg';
import { type BatchResult, COPY_MIN_ROWS, type StepName } from './apply-batch.js';
import type { SourceId, SourceTransaction } from './change.js';
import { ApplyError, TargetError, toError } from './errors.js';
import { logEvents } from './event-log.js';
import { type Logger, noopLogger } from './logger.js';
import { formatLsn } from './lsn.js';
import {
  ensureMetadata,
  laterOf,
  loadPositions,
  loadSourcePosition,
  type StoredPositions,
  saveSourcePosition,
} from './metadata.js';
import type {
  ApplyEngineOptions,
  InternalOptions,
  ResolvedOptions,
  TableMapping,
} from './options.js';
import { resolveOptions } from './options.js';
import { PlannerStats } from './planner-stats.js';
import { lowest, mappingKey, ownedCopy, Router, type TableWatermark, targetKey } from './router.js';
import { Signal } from './signal.js';
import { SourceState, sourceKey, sourceLabel, type TxRecord } from './source-state.js';
import { type Operation, type StatEntry, Stats } from './stats.js';
import { displayName, validateTarget } from './target-ddl.js';
import { loadTargetInfo, type TargetInfo } from './target-meta.js';
import { WalFlushWaiter } from './wal-flush.js';

export type { TableWatermark } from './router.js';

const OPERATIONS = ['insert', 'update', 'delete', 'truncate'] as const;

import type { QueueEntry, Unit, WorkItem } from './work-item.js';
import { CrashSignal, Worker, type WorkerHost } from './worker.js';

export interface SourceStatus {
  state: 'running' | 'failed';
  error?: ApplyError;
  /** Last LSN reported durable, if any. */
  durableLsn?: bigint;
}

export type DurableListener = (source: SourceId, lsn: bigint) => void;

/**
 * Applies committed source transactions to the destination as clone, append
 * or history tables, exactly once. See the README for the semantics, the
 * exactly-once design and the error policy.
 */
export class ApplyEngine {
  private readonly opts: ResolvedOptions;
  private readonly pool: pg.Pool;
  private readonly log: Logger;
  private readonly plannerStats: PlannerStats;
  private readonly mappings = new Map<string, TableMapping[]>();
  private readonly targets = new Map<string, TargetInfo>();
  private readonly sources = new Map<string, SourceState>();
  private readonly held = new Map<SourceState, Map<Unit, WorkItem[]>>();
  private readonly listeners = new Set<DurableListener>();
  private readonly stat = new Stats();
  private readonly progressSignal = new Signal();
  private readonly router: Router;
  private readonly copyMinRows: number;
  private readonly hookStep: ((name: string, worker: number) => void | Promise<void>) | undefined;
  private workers: Worker[] = [];
  private positions = new Map<string, StoredPositions>();
  private flushWaiter: WalFlushWaiter | undefined;
  private state: 'new' | 'starting' | 'running' | 'closing' | 'closed' | 'crashed' = 'new';
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(options: ApplyEngineOptions & InternalOptions) {
    this.opts = resolveOptions(options);
    this.pool = options.destination;
    this.log = (options.logger ?? noopLogger).child({ component: 'apply' });
    this.plannerStats = new PlannerStats(this.pool, this.log);
    this.hookStep = options.testHooks?.step;
    this.copyMinRows = options.copyMinRows ?? COPY_MIN_ROWS;
    for (const t of options.tables) {
      const k = mappingKey(t.source.database, t.source.schema, t.source.table);
      const list = this.mappings.get(k) ?? [];
      list.push(t);
      this.mappings.set(k, list);
    }
    this.router = new Router(
      this.mappings,
      this.targets,
      () => this.positions,
      this.opts.tableLanes,
      () => this.workers,
      this.stat,
      (src, error) => this.failSource(src, error),
    );
  }

  /**
   * Creates the metadata schema if needed, loads every target's columns and
   * the stored positions. Throws a TargetError listing every problem.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new ApplyError('engine_state', 'start() was already called');
    this.state = 'starting';
    const client = await this.pool.connect();
    try {
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
            byTarget.set(k, {
              ref: m.target,
              type: m.type,
              databases: new Set([m.source.database]),
            });
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
      await ensureMetadata(client, this.opts.metadataSchema);
      this.positions = await loadPositions(client, this.opts.metadataSchema);
    } catch (e) {
      this.state = 'new';
      throw e;
    } finally {
      client.release();
    }
    const host = this.workerHost();
    this.workers = Array.from({ length: this.opts.workers }, (_, i) => new Worker(i, host));
    for (const w of this.workers) w.start();
    if (this.opts.synchronousCommit === 'off') this.flushWaiter = new WalFlushWaiter(this.pool);
    this.state = 'running';
    this.log.info(
      { targets: this.targets.size, workers: this.opts.workers, batchRows: this.opts.batchRows },
      'apply engine started',
    );
  }

  private workerHost(): WorkerHost {
    const engine = this;
    return {
      pool: this.pool,
      logger: this.log,
      batchRows: this.opts.batchRows,
      flushIntervalMs: this.opts.flushIntervalMs,
      retry: this.opts.retry,
      metadataSchema: this.opts.metadataSchema,
      synchronousCommit: this.opts.synchronousCommit,
      copyMinRows: this.copyMinRows,
      plannerStats: this.plannerStats,
      get crashed() {
        return engine.state === 'crashed';
      },
      step: (name, worker = 0) => this.step(name, worker),
      committed: (items, result) => this.committed(items, result),
      settle: (items) => this.resolve(items),
      failSource: (source, error) => this.failSource(source, error),
      crash: (e) => this.crash(e),
      progress: () => this.progressSignal.notify(),
    };
  }

  private async step(name: StepName, worker: number): Promise<void> {
    // After a crash every worker stops at its next step, as if the process had died.
    if (this.state === 'crashed') throw new CrashSignal(`engine crashed before ${name}`);
    if (!this.hookStep) return;
    try {
      await this.hookStep(name, worker);
    } catch (e) {
      this.crash(e);
      throw new CrashSignal(`test crash at ${name}`);
    }
  }

  private crash(e: unknown): void {
    if (this.state === 'crashed') return;
    this.state = 'crashed';
    if (!(e instanceof CrashSignal)) this.log.error({ err: toError(e) }, 'apply engine crashed');
    for (const w of this.workers) w.poke();
    this.progressSignal.notify();
  }

  private source(id: SourceId): SourceState {
    const k = sourceKey(id);
    let s = this.sources.get(k);
    if (!s) {
      s = new SourceState({ database: id.database, sid: id.sid });
      this.sources.set(k, s);
    }
    return s;
  }

  /** Registers a listener for durable positions; returns a function that removes it. */
  onDurable(listener: DurableListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
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
   * queued; waits first while too many changes are pending (backpressure).
   * Rejects with the source's error once that source has failed.
   */
  async push(tx: SourceTransaction): Promise<void> {
    this.assertRunning('push');
    const src = this.source(tx.source);
    if (src.state === 'failed') {
      throw new ApplyError(
        'source_failed',
        `${src.label} is stopped: ${src.error?.message ?? 'failed'}`,
        {
          cause: src.error,
          source: src.label,
        },
      );
    }
    validateTx(tx, src);
    const final = tx.final ?? true;
    const first = tx.firstChangeIndex ?? 0;
    if (src.openTx !== undefined && src.openTx !== tx.commitLsn) {
      throw new ApplyError(
        'invalid_input',
        `${src.label}: transaction ${formatLsn(tx.commitLsn)} arrived before the final part of ${formatLsn(src.openTx)}; push the parts of a transaction in order, the last with final: true`,
        { source: src.label, lsn: formatLsn(tx.commitLsn) },
      );
    }
    src.openTx = final ? undefined : tx.commitLsn;
    const rec: TxRecord = {
      commitLsn: tx.commitLsn,
      endLsn: tx.endLsn ?? tx.commitLsn,
      final,
      pending: 1,
    };
    src.track(rec);
    const time = typeof tx.commitTime === 'string' ? tx.commitTime : tx.commitTime.toISOString();
    const out = new Map<Worker, QueueEntry[]>();
    // History changes are grouped per target and emitted when the transaction is complete.
    const groups = this.held.get(src) ?? new Map<Unit, WorkItem[]>();
    try {
      for (let i = 0; i < tx.changes.length; i++) {
        this.router.route(src, rec, tx.commitLsn, first + i, time, tx.changes[i]!, out, groups);
      }
    } catch (e) {
      rec.pending--;
      throw e;
    }
    if (final) {
      this.held.delete(src);
      for (const [unit, items] of groups) this.router.emitGroup(unit, items, out);
    } else if (groups.size > 0) {
      this.held.set(src, groups);
    }
    for (const [w, items] of out) w.enqueue(items);
    rec.pending--;
    this.advance(src);
    while (this.queued() > this.opts.maxPendingRows && this.state === 'running') {
      // Under backpressure no worker waits for its flush interval: a queue
      // below batchRows would otherwise sit idle while the producer waits.
      for (const w of this.workers) {
        w.flushRequested = true;
        w.poke();
      }
      await this.progressSignal.wait(1000);
    }
  }

  private queued(): number {
    let n = 0;
    for (const w of this.workers) n += w.queued;
    return n;
  }

  private committed(items: WorkItem[], result: BatchResult): void {
    for (const { unit, write } of result.positions) {
      unit.positions[write.lane] = laterOf(unit.positions[write.lane], write.position);
    }
    for (const s of result.settled) {
      const n = { insert: 0, update: 0, delete: 0, truncate: 0 };
      for (const it of s.items) n[it.operation]++;
      const src = s.unit.source.id;
      for (const op of OPERATIONS) {
        if (n[op] > 0)
          this.stat.add(src.database, src.sid, s.unit.target.display, op, s.result, n[op]);
      }
    }
    logEvents(this.log, result.events);
    if (this.flushWaiter && result.walLsn) {
      const waiter = this.flushWaiter;
      waiter.wait(result.walLsn).then(
        () => this.resolve(items),
        (e: unknown) => this.crash(e),
      );
    } else {
      this.resolve(items);
    }
  }

  private resolve(items: WorkItem[]): void {
    const touched = new Set<SourceState>();
    for (const it of items) {
      if (it.epoch !== it.unit.source.epoch) continue;
      it.rec.pending--;
      touched.add(it.unit.source);
    }
    for (const s of touched) this.advance(s);
    this.progressSignal.notify();
  }

  private advance(src: SourceState): void {
    if (this.state === 'crashed') return;
    const lsn = src.advance();
    if (lsn === undefined) return;
    for (const l of this.listeners) {
      try {
        l(src.id, lsn);
      } catch (e) {
        this.log.error({ err: toError(e), source: src.label }, 'onDurable listener threw');
      }
    }
    this.scheduleSave();
  }

  private scheduleSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.saveDurable().catch((e: unknown) =>
        this.log.warn({ err: toError(e) }, 'could not record the durable position'),
      );
    }, 1000);
    this.saveTimer.unref();
  }

  private async saveDurable(): Promise<void> {
    if (this.state === 'crashed') return;
    for (const s of this.sources.values()) {
      if (s.durable !== undefined && s.durable !== s.saved) {
        const lsn = s.durable;
        await saveSourcePosition(this.pool, this.opts.metadataSchema, s.id.database, s.id.sid, lsn);
        s.saved = lsn;
      }
    }
  }

  private failSource(src: SourceState, error: ApplyError): void {
    if (src.state === 'failed') return;
    src.state = 'failed';
    src.error = error;
    src.cancelBarriers();
    this.held.delete(src);
    for (const w of this.workers) w.dropSource(src);
    this.log.error(
      {
        source: src.label,
        table: error.table,
        key: error.key,
        lsn: error.lsn,
        sqlstate: error.sqlstate,
        code: error.code,
        err: error,
      },
      'source stopped: its durable position stays before the failing change',
    );
    this.progressSignal.notify();
  }

  /** Position recorded in the destination for this source (a safe restart point), if any. */
  async storedPosition(source: SourceId): Promise<bigint | undefined> {
    return loadSourcePosition(this.pool, this.opts.metadataSchema, source.database, source.sid);
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
    this.router.watermarks.set(`${sourceKey(source)}\u0000${table.schema}\u0000${table.table}`, {
      ...watermark,
    });
    this.router.invalidate();
  }

  sourceStatus(source: SourceId): SourceStatus {
    const s = this.sources.get(sourceKey(source));
    if (!s) return { state: 'running' };
    const out: SourceStatus = { state: s.state };
    if (s.error) out.error = s.error;
    if (s.durable !== undefined) out.durableLsn = s.durable;
    return out;
  }

  /**
   * Clears a failed source so that it can be replayed (from its last durable
   * LSN): queued changes are dropped; what is in the destination stays and
   * replays skip it.
   */
  resumeSource(source: SourceId): void {
    this.assertRunning('resumeSource');
    const s = this.sources.get(sourceKey(source));
    if (!s) return;
    for (const w of this.workers) w.dropSource(s);
    this.held.delete(s);
    s.cancelBarriers();
    s.reset();
    for (const u of this.router.units.values()) {
      if (u.source === s) {
        u.enqueued = ownedCopy(lowest(u.positions));
        u.lastSignature = undefined;
      }
    }
    this.log.info({ source: s.label }, 'source resumed');
  }

  /** Resolves once everything pushed so far is durable (or its source failed). */
  async flush(): Promise<void> {
    this.assertRunning('flush');
    for (;;) {
      if (this.state === 'crashed')
        throw new ApplyError('engine_state', 'flush: the apply engine crashed');
      const busy =
        this.workers.some((w) => w.queued > 0 || w.busy) || (this.flushWaiter?.pending ?? 0) > 0;
      const waiting = [...this.sources.values()].some(
        (s) => s.state === 'running' && !s.idle() && s.openTx === undefined,
      );
      if (!busy && !waiting) break;
      for (const w of this.workers) {
        w.flushRequested = true;
        w.poke();
      }
      await this.progressSignal.wait(100);
    }
    await this.saveDurable();
  }

  stats(): StatEntry[] {
    return this.stat.snapshot();
  }

  /** Applies what is queued, records the durable positions, returns the connections. Leaves the pool open. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const crashed = this.state === 'crashed';
    if (this.state === 'running') this.state = 'closing';
    for (const w of this.workers) w.flushRequested = true;
    await Promise.all(this.workers.map((w) => w.stop()));
    await this.plannerStats.idle();
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (!crashed) {
      await this.flushWaiter?.drain();
      await this.saveDurable().catch((e: unknown) =>
        this.log.warn({ err: toError(e) }, 'could not record the durable position'),
      );
    }
    this.flushWaiter?.stop();
    this.state = crashed ? 'crashed' : 'closed';
    this.log.info({}, 'apply engine closed');
  }
}

function validateTx(tx: SourceTransaction, src: SourceState): void {
  const bad = (what: string) =>
    new ApplyError(
      'invalid_input',
      `${sourceLabel(tx.source ?? { database: '?', sid: '?' })}: ${what}`,
      { source: src.label },
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

export type { Operation };
