import { formatLsn } from '@kuvasz/core';
import { encodeStandbyStatusUpdate } from '@kuvasz/pgoutput';
import { StreamError } from '../errors.js';

/**
 * The stream's positions, kept apart:
 * - received: the highest position the server sent (data or keepalive);
 * - delivered: end of the last final part handed to the consumer;
 * - acked: the highest position the consumer acknowledged;
 * - flushed: what is reported to the server as flushed: `acked`, or, while
 *   nothing is in flight, the last position known to carry nothing for us.
 */
export class StreamPositions {
  /**
   * `received` as two 32-bit halves: it moves with every message, and a
   * bigint per message was a fifth of what receiving allocated.
   */
  private receivedHi = 0;
  private receivedLo = 0;
  delivered = 0n;
  acked = 0n;
  flushed = 0n;
  /** Highest position with nothing for the consumer before it (keepalive, empty transaction, message). */
  private empty = 0n;
  /** Highest end LSN of a transaction received for delivery. */
  private committed = 0n;
  /** False until the start position is known (the slot's, or the caller's). */
  known = false;

  constructor(private readonly slot: string) {}

  /** The position to start (or resume) from; never below the slot's own. */
  setStart(lsn: bigint): void {
    this.flushed = lsn;
    this.known = true;
  }

  get received(): bigint {
    return (BigInt(this.receivedHi) << 32n) | BigInt(this.receivedLo);
  }

  receivedUpTo(lsn: bigint): void {
    this.receivedHalves(Number(lsn >> 32n), Number(lsn & 0xffffffffn));
  }

  /** `receivedUpTo` of the big-endian LSN at `buf[offset]` (an XLogData header's), without a bigint. */
  receivedAt(buf: Uint8Array, offset: number): void {
    const hi =
      ((buf[offset]! << 24) |
        (buf[offset + 1]! << 16) |
        (buf[offset + 2]! << 8) |
        buf[offset + 3]!) >>>
      0;
    const lo =
      ((buf[offset + 4]! << 24) |
        (buf[offset + 5]! << 16) |
        (buf[offset + 6]! << 8) |
        buf[offset + 7]!) >>>
      0;
    this.receivedHalves(hi, lo);
  }

  private receivedHalves(hi: number, lo: number): void {
    if (hi > this.receivedHi || (hi === this.receivedHi && lo > this.receivedLo)) {
      this.receivedHi = hi;
      this.receivedLo = lo;
    }
  }

  /** A transaction for the consumer was received up to `endLsn`. */
  committedUpTo(endLsn: bigint): void {
    if (endLsn > this.committed) this.committed = endLsn;
  }

  /** Everything before `lsn` has arrived and none of it is for the consumer. */
  emptyUpTo(lsn: bigint): void {
    if (lsn > this.empty) this.empty = lsn;
  }

  deliveredUpTo(endLsn: bigint): void {
    if (endLsn > this.delivered) this.delivered = endLsn;
  }

  /** Validates and records an ack; true when it moved. */
  ack(lsn: bigint): boolean {
    if (typeof lsn !== 'bigint' || lsn < 0n) {
      throw new StreamError(
        'invalid_argument',
        this.slot,
        `ack() takes an LSN as a bigint, got ${String(lsn)}`,
      );
    }
    if (lsn > this.delivered) {
      throw new StreamError(
        'invalid_argument',
        this.slot,
        `ack(${formatLsn(lsn)}) is beyond the last delivered position ${formatLsn(this.delivered)}; acknowledge the endLsn of a final part once it is durable`,
      );
    }
    if (lsn <= this.acked) return false;
    this.acked = lsn;
    return true;
  }

  /**
   * Moves `flushed` to `acked`, and, when `quiet` (nothing queued, nothing
   * half received) and every transaction received was delivered and acked,
   * up to the last empty position: everything before it has arrived (the
   * server sends in order), so confirming it loses nothing. True when it moved.
   */
  refresh(quiet: boolean): boolean {
    if (!this.known) return false;
    let target = this.acked;
    if (
      quiet &&
      this.committed <= this.acked &&
      this.delivered <= this.acked &&
      this.empty > target
    ) {
      target = this.empty;
    }
    if (target > this.flushed) {
      this.flushed = target;
      return true;
    }
    return false;
  }

  /** The standby status update: write = max(received, flushed), flush = apply = flushed. */
  statusUpdate(replyRequested = false): Uint8Array {
    return encodeStandbyStatusUpdate({
      writeLsn: maxLsn(this.received, this.flushed),
      flushLsn: this.flushed,
      applyLsn: this.flushed,
      replyRequested,
    });
  }
}

// Math.max does not take bigints.
function maxLsn(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
