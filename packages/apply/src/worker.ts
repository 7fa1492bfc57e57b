import type pg from 'pg';
import { applyBatch, type BatchContext, type BatchResult, type StepName } from './apply-batch.js';
import { ApplyError, sqlstateOf, toError } from './errors.js';
import type { Logger } from './logger.js';
import { formatLsn } from './lsn.js';
import { covered, loadPositions, positionKey } from './metadata.js';
import type { PlannerStats } from './planner-stats.js';
import { backoffMs, isTransient, type RetryOptions, sleep } from './retry.js';
import { describeKey } from './shape.js';
import { Signal } from './signal.js';
import type { SourceState } from './source-state.js';
import { type BarrierEntry, isBarrier, type QueueEntry, type WorkItem } from './work-item.js';

/** Thrown by the test hook: the engine stops dead, as if the process died there. */
export class CrashSignal extends Error {
  override readonly name = 'CrashSignal';
}

export interface WorkerHost {
  readonly pool: pg.Pool;
  readonly logger: Logger;
  readonly batchRows: number;
  readonly flushIntervalMs: number;
  readonly retry: Required<RetryOptions>;
  readonly metadataSchema: string;
  readonly synchronousCommit: 'on' | 'off';
  readonly copyMinRows: number;
  readonly crashed: boolean;
  readonly plannerStats: PlannerStats;
  step(name: StepName): Promise<void>;
  /** The batch is committed: positions, stats, logs, durability. */
  committed(items: WorkItem[], result: BatchResult): void;
  /** Items that need no write (already covered by the stored position). */
  settle(items: WorkItem[]): void;
  failSource(source: SourceState, error: ApplyError): void;
  crash(error: unknown): void;
  progress(): void;
}

/**
 * A partial batch waits this many times as long as the previous batch took
 * (see linger). Measured at 2,000 / 10,000 changes/s (pgbench, 2 shared
 * cores): 1 gave p50 3.7 / 8.1 ms but starved the source (pgbench made 8,000
 * of its 10,000/s); 4 gave 7.6 / 12.9 ms with the rate held; a fixed 20 ms
 * gave 13.7 / 16 to 19 ms.
 */
const LINGER_FACTOR = 4;

class RejectedBatch extends Error {
  constructor(readonly original: unknown) {
    super('batch rejected');
  }
}

/**
 * One destination connection and the queue of the target tables hashed to
 * it. Batches run one after the other, so the changes of a table keep their
 * order; different workers run in parallel.
 */
export class Worker {
  // Taken slots are cleared (see pop) so a change is freed with its batch, not with the queue.
  private queue: (QueueEntry | undefined)[] = [];
  private head = 0;
  private firstAt = 0;
  private readonly wake = new Signal();
  private client: pg.PoolClient | undefined;
  private loopDone: Promise<void> | undefined;
  private stopping = false;
  flushRequested = false;
  busy = false;
  /** Time spent applying (planning, statements, commits), for the bench's engine-only figure. */
  busyMs = 0;
  /** How long the last batch took to apply: the next one waits four times as long to fill (see linger). */
  private lastBatchMs = 0;
  /** Batches committed and the changes in them, for the bench. */
  batches = 0;
  batchedItems = 0;
  private readonly ctx: BatchContext;

  constructor(
    readonly index: number,
    private readonly host: WorkerHost,
  ) {
    this.ctx = {
      metadataSchema: host.metadataSchema,
      synchronousCommit: host.synchronousCommit,
      copyMinRows: host.copyMinRows,
      step: (name) => host.step(name),
    };
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  enqueue(items: QueueEntry[]): void {
    if (items.length === 0) return;
    const wasEmpty = this.queued === 0;
    if (wasEmpty) this.firstAt = Date.now();
    for (const it of items) this.queue.push(it);
    // An idle worker sleeps without a timeout: wake it so that it starts the
    // flush-interval clock, or a lone small batch would wait for the next one.
    if (wasEmpty || this.queued >= this.host.batchRows) this.wake.notify();
  }

  poke(): void {
    this.wake.notify();
  }

  start(): void {
    this.loopDone = this.loop().catch((e: unknown) => this.host.crash(e));
  }

  /** Drains the queue (or stops at once after a crash) and returns the connection. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake.notify();
    await this.loopDone;
    this.releaseClient(this.host.crashed);
  }

  /** Drops queued items of a failed (or reset) source: they must not be applied. */
  dropSource(source: SourceState): void {
    const kept = this.queue
      .slice(this.head)
      .filter((i) => i !== undefined && i.unit.source !== source);
    this.queue = kept;
    this.head = 0;
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (this.host.crashed) return;
      if (this.queued === 0) {
        this.flushRequested = false;
        if (this.stopping) return;
        await this.wake.wait();
        continue;
      }
      const age = Date.now() - this.firstAt;
      const linger = this.linger();
      if (
        !isBarrier(this.queue[this.head]!) &&
        this.queued < this.host.batchRows &&
        age < linger &&
        !this.flushRequested &&
        !this.stopping
      ) {
        await this.wake.wait(linger - age);
        continue;
      }
      const head = this.queue[this.head]!;
      this.busy = true;
      const t0 = performance.now();
      try {
        if (isBarrier(head)) {
          this.pop();
          await this.passBarrier(head);
        } else {
          const batch = this.take();
          if (batch.length > 0) await this.process(batch);
        }
      } finally {
        this.busy = false;
        this.lastBatchMs = performance.now() - t0;
        this.busyMs += this.lastBatchMs;
      }
      this.host.progress();
    }
  }

  /**
   * How long a partial batch waits for more changes: four times as long as
   * the previous batch took to apply, at least 1 ms and at most
   * flushIntervalMs. A fast destination and a light load give small batches
   * within milliseconds; when batches get slow (load, a busy machine) they
   * wait longer and grow, so each change costs less CPU. A worker so spends
   * at most about a fifth of its time committing partial batches.
   */
  private linger(): number {
    return Math.min(this.host.flushIntervalMs, Math.max(1, LINGER_FACTOR * this.lastBatchMs));
  }

  private live(it: WorkItem): boolean {
    return it.unit.source.state === 'running' && it.epoch === it.unit.source.epoch;
  }

  /**
   * Every lane of the table arrives here having committed all it had before;
   * the lane-0 worker then applies the barrier's changes alone and releases.
   */
  private async passBarrier(entry: BarrierEntry): Promise<void> {
    const b = entry.barrier;
    b.arrive(entry.lane);
    const stop = () => this.host.crashed;
    if (entry.items.length === 0) {
      await b.waitRelease(stop);
      return;
    }
    if (await b.waitAll(stop)) {
      try {
        await this.process(entry.items);
      } finally {
        b.release();
      }
    }
  }

  private pop(): void {
    this.queue[this.head] = undefined;
    this.head++;
  }

  private take(): WorkItem[] {
    const out: WorkItem[] = [];
    while (this.head < this.queue.length && out.length < this.host.batchRows) {
      const it = this.queue[this.head]!;
      if (isBarrier(it)) break;
      if (!this.live(it)) {
        this.pop();
        continue;
      }
      if (it.error) {
        if (out.length === 0) {
          this.pop();
          out.push(it);
        }
        break;
      }
      out.push(it);
      this.pop();
    }
    // Never split the changes of one history transaction: they fold into one version per key.
    const last = out[out.length - 1];
    if (last?.atomic) {
      while (this.head < this.queue.length) {
        const it = this.queue[this.head]!;
        if (
          isBarrier(it) ||
          !it.atomic ||
          it.unit !== last.unit ||
          it.lane !== last.lane ||
          it.lsn !== last.lsn ||
          it.error
        ) {
          break;
        }
        out.push(it);
        this.pop();
      }
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  private async process(batch: WorkItem[]): Promise<void> {
    const first = batch[0]!;
    if (first.error) {
      this.host.failSource(first.unit.source, first.error);
      return;
    }
    await this.applyRange(batch);
  }

  private async applyRange(all: WorkItem[]): Promise<void> {
    const items = this.pending(all);
    if (items.length === 0) return;
    try {
      await this.applyWithRetry(items);
    } catch (e) {
      if (!(e instanceof RejectedBatch)) throw e;
      const mid = splitPoint(items);
      if (mid === undefined) {
        this.host.failSource(items[0]!.unit.source, rejection(items, e.original));
        return;
      }
      await this.applyRange(items.slice(0, mid));
      await this.applyRange(items.slice(mid));
    }
  }

  /** Live items not yet in the destination; covered ones are settled. */
  private pending(items: WorkItem[]): WorkItem[] {
    const out: WorkItem[] = [];
    const done: WorkItem[] = [];
    for (const it of items) {
      if (!this.live(it)) continue;
      if (covered(it.unit.positions[it.lane], it.lsn, it.index)) done.push(it);
      else out.push(it);
    }
    if (done.length > 0) this.host.settle(done);
    return out;
  }

  private async applyWithRetry(start: WorkItem[]): Promise<void> {
    let items = start;
    for (let attempt = 0; ; attempt++) {
      let client: pg.PoolClient | undefined;
      try {
        client = await this.acquire();
        await this.firstLooks(client, items);
        const result = await applyBatch(client, items, this.ctx);
        this.batches++;
        this.batchedItems += items.length;
        this.host.committed(items, result);
        this.keepStatistics(items);
        return;
      } catch (e) {
        if (e instanceof CrashSignal || this.host.crashed) {
          this.releaseClient(true);
          throw e instanceof CrashSignal ? e : new CrashSignal('engine crashed');
        }
        if (!isTransient(e)) {
          if (client) await client.query('ROLLBACK').catch(() => this.releaseClient(true));
          throw new RejectedBatch(e);
        }
        this.releaseClient(true);
        if (attempt + 1 >= this.host.retry.attempts) {
          const err = new ApplyError(
            'destination_unavailable',
            `destination unavailable after ${attempt + 1} attempts: ${toError(e).message}; check that the destination is up and reachable`,
            { cause: e, sqlstate: sqlstateOf(e) },
          );
          for (const s of new Set(items.map((i) => i.unit.source))) this.host.failSource(s, err);
          return;
        }
        const wait = backoffMs(attempt, this.host.retry);
        this.host.logger.warn(
          { worker: this.index, attempt: attempt + 1, retryInMs: wait, err: toError(e) },
          'destination error, retrying the batch',
        );
        await sleep(wait);
        // The COMMIT may have gone through before the connection dropped: re-read positions.
        await this.refreshPositions(items).catch(() => {});
        items = this.pending(items);
        if (items.length === 0) return;
      }
    }
  }

  /** Targets of the batch seen for the first time get their statistics checked first (PlannerStats). */
  private async firstLooks(client: pg.PoolClient, items: WorkItem[]): Promise<void> {
    let last: WorkItem['unit']['target'] | undefined;
    for (const it of items) {
      if (it.unit.target === last) continue;
      last = it.unit.target;
      await this.host.plannerStats.firstLook(client, last);
    }
  }

  /** After a commit: counts the rows added per target; due targets are analyzed beside the workers. */
  private keepStatistics(items: WorkItem[]): void {
    const stats = this.host.plannerStats;
    let target = items[0]?.unit.target;
    let n = 0;
    for (const it of items) {
      if (it.unit.target !== target) {
        if (target && n > 0) stats.added(target, n);
        target = it.unit.target;
        n = 0;
      }
      // Rows that grow the table: inserts, and history's new versions of updates.
      if (
        it.operation === 'insert' ||
        (it.operation === 'update' && it.unit.target.type === 'history')
      )
        n++;
    }
    if (target && n > 0) stats.added(target, n);
    stats.kick();
  }

  private async refreshPositions(items: WorkItem[]): Promise<void> {
    const client = await this.acquire();
    const positions = await loadPositions(client, this.host.metadataSchema);
    for (const unit of new Set(items.map((i) => i.unit))) {
      const p = positions.get(
        positionKey(
          unit.source.id.database,
          unit.source.id.sid,
          unit.target.ref.schema,
          unit.target.ref.table,
        ),
      );
      if (p) for (const [lane, pos] of p.byLane) unit.positions[lane] = pos;
    }
  }

  private async acquire(): Promise<pg.PoolClient> {
    if (!this.client) {
      const c = await this.host.pool.connect();
      // Errors on an idle client would otherwise crash the process.
      c.on('error', () => {});
      this.client = c;
    }
    return this.client;
  }

  private releaseClient(destroy: boolean): void {
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    try {
      c.release(destroy ? new Error('apply connection discarded') : undefined);
    } catch {
      // already released
    }
  }
}

function groupOf(it: WorkItem): string | undefined {
  return it.atomic ? `${it.unit.key}\u0000${it.lane}\u0000${it.lsn}` : undefined;
}

/** Where to bisect, on a boundary that keeps a history transaction whole; undefined: one change. */
export function splitPoint(items: WorkItem[]): number | undefined {
  if (items.length <= 1) return undefined;
  const g0 = groupOf(items[0]!);
  if (g0 !== undefined && items.every((i) => groupOf(i) === g0)) return undefined;
  const mid = Math.floor(items.length / 2);
  const same = (i: number) => {
    const g = groupOf(items[i]!);
    return g !== undefined && g === groupOf(items[i - 1]!);
  };
  for (let m = mid; m < items.length; m++) if (!same(m)) return m;
  for (let m = mid - 1; m > 0; m--) if (!same(m)) return m;
  return undefined;
}

function rejection(items: WorkItem[], original: unknown): ApplyError {
  const it = items[0]!;
  const plan = it.plan;
  const key =
    plan && plan.op !== 'truncate'
      ? describeKey(plan.shape, plan.whereT ?? plan.newT)
      : '(truncate)';
  const sqlstate = sqlstateOf(original);
  const lsn = formatLsn(it.lsn);
  const table = it.unit.target.display;
  const what =
    items.length > 1
      ? `one of ${items.length} changes of the transaction`
      : `${it.operation} #${it.index}`;
  return new ApplyError(
    'change_rejected',
    `${it.unit.source.label}: ${table} rejected ${what} at ${lsn} (key ${key}): ${toError(original).message}${sqlstate ? ` [SQLSTATE ${sqlstate}]` : ''}; fix the target table or the data, then restart this source (it resumes at this change)`,
    {
      table,
      key,
      lsn,
      changeIndex: it.index,
      sqlstate,
      source: it.unit.source.label,
      cause: original,
    },
  );
}
