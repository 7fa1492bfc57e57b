import { PgoutputError } from './errors.js';

const DEFAULT_CAPACITY = 64 * 1024;

/**
 * A growable byte buffer that COPY text rows are written into, reused
 * across batches: `clear()` after each flush keeps its memory. Writers call
 * `reserve` once for the most they may write, then write into `data` from
 * `length` without further checks.
 */
export class CopyBuffer {
  /** The bytes; only `data[0, length)` are written. Replaced when the buffer grows. */
  data: Uint8Array;
  /** Bytes written so far. */
  length = 0;

  constructor(initialCapacity: number = DEFAULT_CAPACITY) {
    if (!(initialCapacity >>> 0 === initialCapacity && initialCapacity > 0)) {
      throw new PgoutputError(
        'invalid_argument',
        `CopyBuffer capacity ${String(initialCapacity)} must be a positive integer (bytes)`,
      );
    }
    this.data = new Uint8Array(initialCapacity);
  }

  /** Makes room for `n` more bytes and returns `data` (which growing replaces). */
  reserve(n: number): Uint8Array {
    const need = this.length + n;
    if (need > this.data.length) {
      const grown = new Uint8Array(Math.max(need, this.data.length * 2));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    return this.data;
  }

  /** The written bytes, as a view valid until the next write or `clear()`. */
  bytes(): Uint8Array {
    return this.data.subarray(0, this.length);
  }

  /** Forgets what was written; keeps the memory. */
  clear(): void {
    this.length = 0;
  }
}
