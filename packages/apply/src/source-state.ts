import type { Barrier } from './barrier.js';
import type { SourceId } from './change.js';
import type { ApplyError } from './errors.js';

/** One pushed transaction part, until every change of it is durable (or dropped). */
export interface TxRecord {
  commitLsn: bigint;
  endLsn: bigint;
  final: boolean;
  /** Changes not yet durable; the record resolves at zero. */
  pending: number;
}

export function sourceKey(id: SourceId): string {
  return `${id.database}\u0000${id.sid}`;
}

export function sourceLabel(id: SourceId): string {
  return `${id.database} (sid ${id.sid})`;
}

/**
 * Per source: the low watermark. Records resolve in any order (tables are
 * applied by different workers), but the durable LSN only moves past a
 * record once every earlier record resolved too.
 */
export class SourceState {
  readonly key: string;
  readonly label: string;
  state: 'running' | 'failed' = 'running';
  error: ApplyError | undefined;
  /** Last LSN reported durable. */
  durable: bigint | undefined;
  /** Last durable LSN written to the metadata `sources` table. */
  saved: bigint | undefined;
  /** The transaction whose parts are arriving (a non-final part was pushed). */
  openTx: bigint | undefined;
  openNextIndex = 0;
  /** Bumped by `resumeSource`; items of an older epoch are dropped. */
  epoch = 0;
  /** Barriers not yet passed, cancelled when the source fails or resets. */
  readonly barriers = new Set<Barrier>();
  private records: TxRecord[] = [];
  private head = 0;

  constructor(readonly id: SourceId) {
    this.key = sourceKey(id);
    this.label = sourceLabel(id);
  }

  track(rec: TxRecord): void {
    this.records.push(rec);
  }

  /** Pops resolved records; returns the new durable LSN when it moved. */
  advance(): bigint | undefined {
    // Also after a failure: changes before the failing one may still be
    // committing on other lanes; the failing change's record never resolves,
    // so the durable LSN stops right before it.
    let moved: bigint | undefined;
    while (this.head < this.records.length) {
      const r = this.records[this.head]!;
      if (r.pending > 0) break;
      this.head++;
      if (r.final && (this.durable === undefined || r.endLsn > this.durable)) {
        this.durable = r.endLsn;
        moved = r.endLsn;
      }
    }
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
    return moved;
  }

  /** Nothing pushed is waiting. */
  idle(): boolean {
    return this.head >= this.records.length;
  }

  cancelBarriers(): void {
    for (const b of this.barriers) b.cancel();
    this.barriers.clear();
  }

  reset(): void {
    this.records = [];
    this.head = 0;
    this.openTx = undefined;
    this.openNextIndex = 0;
    this.state = 'running';
    this.error = undefined;
    this.epoch++;
  }
}
