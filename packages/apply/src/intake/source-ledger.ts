import type { LeaseFence } from '@kuvasz/core';
import type { SourceId, SourceRelation } from '../change.js';
import type { ApplyError } from '../errors.js';
import type { SourcePosition } from '../metadata/position-store.js';
import type { LegacyPositions } from './legacy-positions.js';
import type { RoutedChange } from './router.js';

/** One pushed transaction, or one part of a large one, routed and waiting to be applied. */
export interface QueuedPart {
  commitLsn: bigint;
  /** The LSN to acknowledge once this transaction is durable (final parts). */
  endLsn: bigint;
  final: boolean;
  changes: RoutedChange[];
  /** When it was queued (`Date.now()`): a partial group waits from its oldest part. */
  queuedAt: number;
}

export function sourceKey(id: SourceId): string {
  return `${id.database}\u0000${id.sid}`;
}

export function sourceLabel(id: SourceId): string {
  return `${id.database} (sid ${id.sid})`;
}

/**
 * Everything the engine knows of one source: its queue of routed
 * transactions in commit order, the position applied in the destination, the
 * one reported durable, and whether it runs. One worker at a time takes its
 * next group from the head of the queue, so the source's transactions reach
 * the destination whole and in order.
 */
export class SourceLedger {
  readonly key: string;
  readonly label: string;
  state: 'running' | 'failed' = 'running';
  error: ApplyError | undefined;
  /** Bumped by `reset`: a worker holding the source from before drops what it holds. */
  epoch = 0;
  /** Last transaction committed in the destination (loaded at start, advanced on commit). */
  applied: SourcePosition | undefined;
  /** Last LSN reported durable. */
  durable: bigint | undefined;
  /** Highest change routed: (commit LSN, next index). Re-pushed changes at or below it are dropped. */
  private routedTo: { lsn: bigint; nextIndex: number } | undefined;
  /** The transaction whose parts are arriving (a non-final part was pushed). */
  openTx: bigint | undefined;
  /** History changes of the open transaction's earlier parts: a history transaction is planned whole. */
  heldHistory: RoutedChange[] = [];
  /** Transactions the destination refused in their set-based form: applied one change at a time. */
  readonly exact = new Set<bigint>();
  /** Lane positions of the engine before ordered apply, until the replay passes them. */
  legacy: LegacyPositions | undefined;
  /** Relations whose new columns were looked at (`schemaChanges: 'add_columns'`). */
  readonly seenRelations = new WeakSet<SourceRelation>();
  /**
   * In a fleet, the lease this instance holds for the source: every
   * destination transaction of the source checks it before COMMIT.
   */
  fence: LeaseFence | undefined;
  /** Given up by `releaseSource`: nothing of it is accepted until claimed again. */
  released = false;
  /** Reset by its reader after a failure: its targets are re-read before its next change is routed. */
  targetsStale = false;
  /** A worker holds this source. */
  inFlight = false;
  /** flush() or close() asked for everything now. */
  flushRequested = false;
  /**
   * Typical time between two of the source's transactions (a moving
   * average; Infinity until two have arrived): a source whose next
   * transaction is not expected within the wait is applied at once.
   */
  arrivalGapMs = Number.POSITIVE_INFINITY;
  private lastArrival = 0;
  private parts: QueuedPart[] = [];
  private head = 0;
  /** Who waits for the next part of an open transaction (see `partArrival`). */
  private arrivals: (() => void)[] = [];
  /** Changes queued. */
  queued = 0;
  /** Final parts queued, in flight, or committed but not yet reported durable: what flush() waits for. */
  pendingFinal = 0;

  constructor(readonly id: SourceId) {
    this.key = sourceKey(id);
    this.label = sourceLabel(id);
  }

  /**
   * Where a pushed part starts being new: changes below the returned index
   * were routed before (a reader replaying after a reconnect). Undefined:
   * the whole part was routed before.
   */
  newFrom(commitLsn: bigint, firstIndex: number, count: number): number | undefined {
    const r = this.routedTo;
    if (!r || commitLsn > r.lsn) return firstIndex;
    if (commitLsn < r.lsn) return undefined;
    return r.nextIndex >= firstIndex + count ? undefined : Math.max(firstIndex, r.nextIndex);
  }

  routed(commitLsn: bigint, nextIndex: number): void {
    this.routedTo = { lsn: commitLsn, nextIndex };
  }

  /** Whether the destination already holds the transaction at `commitLsn`. */
  isApplied(commitLsn: bigint): boolean {
    return this.applied !== undefined && commitLsn <= this.applied.commitLsn;
  }

  enqueue(part: QueuedPart): void {
    this.parts.push(part);
    this.queued += part.changes.length;
    if (part.final) {
      this.pendingFinal++;
      if (this.lastArrival > 0) {
        const gap = part.queuedAt - this.lastArrival;
        this.arrivalGapMs =
          this.arrivalGapMs === Number.POSITIVE_INFINITY
            ? gap
            : 0.8 * this.arrivalGapMs + 0.2 * gap;
      }
      this.lastArrival = part.queuedAt;
    }
    this.notifyArrival();
  }

  /** Resolves when a part is queued, or the source fails or is reset. */
  partArrival(): Promise<void> {
    return new Promise((resolve) => this.arrivals.push(resolve));
  }

  private notifyArrival(): void {
    for (const r of this.arrivals.splice(0)) r();
  }

  queuedParts(): number {
    return this.parts.length - this.head;
  }

  peek(): QueuedPart | undefined {
    return this.parts[this.head];
  }

  /**
   * The next group: whole final transactions from the head, up to `maxChanges`
   * changes (at least one transaction), or the head part alone when it is
   * the first part of a large transaction.
   */
  takeGroup(maxChanges: number): QueuedPart[] {
    const out: QueuedPart[] = [];
    let n = 0;
    while (this.head < this.parts.length) {
      const p = this.parts[this.head]!;
      if (!p.final) {
        if (out.length === 0) out.push(this.shift());
        break;
      }
      if (out.length > 0 && n + p.changes.length > maxChanges) break;
      out.push(this.shift());
      n += p.changes.length;
    }
    return out;
  }

  /** The next part, if it is queued. */
  takePart(): QueuedPart | undefined {
    return this.head < this.parts.length ? this.shift() : undefined;
  }

  private shift(): QueuedPart {
    const p = this.parts[this.head]!;
    this.parts[this.head] = undefined as unknown as QueuedPart;
    this.head++;
    this.queued -= p.changes.length;
    if (this.head > 1024 && this.head * 2 > this.parts.length) {
      this.parts = this.parts.slice(this.head);
      this.head = 0;
    }
    if (this.head >= this.parts.length) this.flushRequested = false;
    return p;
  }

  /** A group was committed (or skipped) in the destination. */
  done(parts: QueuedPart[], position: SourcePosition | undefined): void {
    for (const p of parts) this.exact.delete(p.commitLsn);
    if (position && (!this.applied || position.commitLsn > this.applied.commitLsn))
      this.applied = position;
  }

  /** `n` final parts were reported durable. */
  settleFinal(n: number): void {
    this.pendingFinal = Math.max(0, this.pendingFinal - n);
  }

  /** Wakes a worker waiting for the next part of an open transaction (it re-checks the source). */
  interrupt(): void {
    this.notifyArrival();
  }

  /** The destination refused a change: nothing of this source at or after it is applied. */
  fail(error: ApplyError): void {
    this.state = 'failed';
    this.error = error;
    this.dropQueue();
  }

  /** Back to running after a failure or a reader's restart: the reader pushes again from the durable LSN. */
  reset(): void {
    this.dropQueue();
    this.state = 'running';
    this.error = undefined;
    this.epoch++;
  }

  private dropQueue(): void {
    this.parts = [];
    this.head = 0;
    this.queued = 0;
    this.pendingFinal = 0;
    this.openTx = undefined;
    this.heldHistory = [];
    this.routedTo = undefined;
    this.flushRequested = false;
    this.notifyArrival();
  }

  /** Nothing pushed waits to be applied. */
  idle(): boolean {
    return this.pendingFinal === 0;
  }
}
