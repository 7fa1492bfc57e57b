import { describeByte } from './decode-dml.js';
import { assertBytes, PgoutputDecodeError, PgoutputError } from './errors.js';

const COPY_DATA = 0x64; // 'd'
const HEADER_BYTES = 5; // 'd' + Int32 length (which counts itself)
/** PostgreSQL's MaxAllocSize (1 GB - 1) plus the length word and XLogData header. */
const DEFAULT_MAX_MESSAGE_BYTES = 0x3fff_ffff + 4 + 25;

export interface CopyDataAssemblerOptions {
  /** Largest accepted CopyData length field, in bytes (default 1 GiB + header). */
  maxMessageBytes?: number;
}

/**
 * Reassembles CopyData messages (`'d'`, Int32 length, payload) from a byte
 * stream cut at arbitrary places, e.g. what a socket hands out after
 * `START_REPLICATION`. `push` returns the payloads completed by a chunk, each
 * a fresh copy (the caller may reuse its chunk buffers).
 */
export class CopyDataAssembler {
  private readonly maxMessageBytes: number;
  private pending: Uint8Array = new Uint8Array(0);
  private pendingLength = 0;
  /** Stream offset of `pending[0]`, for error offsets. */
  private streamOffset = 0;

  constructor(options: CopyDataAssemblerOptions = {}) {
    const max = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isSafeInteger(max) || max < HEADER_BYTES) {
      throw new PgoutputError(
        'invalid_argument',
        `maxMessageBytes ${String(max)} must be an integer of at least ${HEADER_BYTES}`,
      );
    }
    this.maxMessageBytes = max;
  }

  /** Bytes of an incomplete message held back for the next chunk. */
  get bufferedBytes(): number {
    return this.pendingLength;
  }

  /** Feeds the next chunk; returns the payloads of the messages it completes. */
  push(chunk: Uint8Array): Uint8Array[] {
    assertBytes(chunk, 'CopyDataAssembler.push');
    const out: Uint8Array[] = [];
    let buf: Uint8Array;
    let len: number;
    if (this.pendingLength === 0) {
      buf = chunk;
      len = chunk.length;
    } else {
      this.append(chunk);
      buf = this.pending;
      len = this.pendingLength;
    }
    let pos = 0;
    while (len - pos >= HEADER_BYTES) {
      const type = buf[pos]!;
      if (type !== COPY_DATA) {
        this.fail(
          'unknown_tag',
          `expected a CopyData message ('d'), got ${describeByte(type)}; feed only the CopyData part of the stream`,
          pos,
        );
      }
      const size =
        buf[pos + 1]! * 0x1000000 + ((buf[pos + 2]! << 16) | (buf[pos + 3]! << 8) | buf[pos + 4]!);
      if (size < 4) {
        this.fail('invalid', `CopyData length ${size} is below 4 (it counts itself)`, pos + 1);
      }
      if (size > this.maxMessageBytes) {
        this.fail(
          'oversized',
          `CopyData length ${size} exceeds maxMessageBytes ${this.maxMessageBytes}`,
          pos + 1,
        );
      }
      if (len - pos < 1 + size) break;
      const start = pos + HEADER_BYTES;
      const payload = new Uint8Array(size - 4);
      payload.set(buf.subarray(start, pos + 1 + size));
      out.push(payload);
      pos += 1 + size;
    }
    this.keep(buf, pos, len);
    return out;
  }

  /** Call at the end of the stream: fails if a message was cut short. */
  finish(): void {
    if (this.pendingLength > 0) {
      this.fail(
        'truncated',
        `the stream ended inside a CopyData message (${this.pendingLength} bytes buffered)`,
        0,
      );
    }
  }

  /** Drops buffered bytes, e.g. after a reconnect. */
  reset(): void {
    this.pending = new Uint8Array(0);
    this.pendingLength = 0;
    this.streamOffset = 0;
  }

  private append(chunk: Uint8Array): void {
    const need = this.pendingLength + chunk.length;
    if (need > this.pending.length) {
      const grown = new Uint8Array(Math.max(need, this.pending.length * 2, 256));
      grown.set(this.pending.subarray(0, this.pendingLength));
      this.pending = grown;
    }
    this.pending.set(chunk, this.pendingLength);
    this.pendingLength = need;
  }

  /** Keeps `buf[from, len)` for the next push. */
  private keep(buf: Uint8Array, from: number, len: number): void {
    const rest = len - from;
    if (buf === this.pending) {
      this.pending.copyWithin(0, from, len);
    } else if (rest > 0) {
      if (this.pending.length < rest) this.pending = new Uint8Array(Math.max(rest, 256));
      this.pending.set(buf.subarray(from, len));
    }
    this.streamOffset += from;
    this.pendingLength = rest;
  }

  private fail(
    code: 'unknown_tag' | 'invalid' | 'oversized' | 'truncated',
    detail: string,
    at: number,
  ): never {
    const offset = this.streamOffset + at;
    // The stream cannot be resynchronised after a framing error.
    this.reset();
    throw new PgoutputDecodeError(code, detail, { tag: undefined, offset, protoVersion: 0 });
  }
}
