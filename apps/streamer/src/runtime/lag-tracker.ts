import { PG_EPOCH_MS } from '@kuvasz/pgoutput';

/**
 * Commit-to-durable lag of one source: the age of the oldest transaction
 * handed to the engine and not yet durable (0 when nothing is pending).
 */
export class LagTracker {
  // A queue with a moving head: shift() is linear and backlogs are long.
  private pending: { endLsn: bigint; commitMs: number }[] = [];
  private head = 0;

  pushed(endLsn: bigint, commitTimeUs: bigint): void {
    this.pending.push({ endLsn, commitMs: PG_EPOCH_MS + Number(commitTimeUs / 1000n) });
  }

  /** Forgets what `lsn` made durable; returns how many transactions that was. */
  durable(lsn: bigint): number {
    const start = this.head;
    while (this.head < this.pending.length && (this.pending[this.head]?.endLsn ?? 0n) <= lsn)
      this.head++;
    const n = this.head - start;
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    return n;
  }

  seconds(now = Date.now()): number {
    const first = this.pending[this.head];
    return first ? Math.max(0, (now - first.commitMs) / 1000) : 0;
  }

  clear(): void {
    this.pending = [];
    this.head = 0;
  }
}
