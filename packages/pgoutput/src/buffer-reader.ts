import { int32At, int64At, uint32At, uint64At } from './big-endian.js';
import { PgoutputDecodeError, type PgoutputDecodeErrorCode } from './errors.js';
import { utf8Text } from './utf8-text.js';

const EMPTY = new Uint8Array(0);
const fromCharCode = String.fromCharCode;

/**
 * A bounds-checked cursor over one input, reused across messages: `reset`
 * points it at the next input, so decoding allocates nothing but results.
 * Every read checks the remaining length first and throws a
 * `PgoutputDecodeError` instead of reading past the end.
 */
export class BufferReader {
  buf: Uint8Array = EMPTY;
  pos = 0;
  end = 0;
  /** Tag byte of the message being read (0 before it is known), for errors. */
  tag = 0;
  protoVersion: number;

  constructor(protoVersion: number) {
    this.protoVersion = protoVersion;
  }

  reset(buf: Uint8Array): void {
    this.buf = buf;
    this.pos = 0;
    this.end = buf.length;
    this.tag = 0;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(code: PgoutputDecodeErrorCode, detail: string, offset = this.pos, cause?: unknown): never {
    throw new PgoutputDecodeError(
      code,
      detail,
      {
        tag: this.tag === 0 ? undefined : fromCharCode(this.tag),
        offset,
        protoVersion: this.protoVersion,
      },
      cause === undefined ? undefined : { cause },
    );
  }

  need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      this.fail(
        'truncated',
        `${what} needs ${n} bytes but only ${this.end - this.pos} remain; pass whole messages (one CopyData payload each)`,
      );
    }
  }

  u8(what: string): number {
    if (this.pos >= this.end) this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what: string): number {
    if (this.end - this.pos < 2) this.need(2, what);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  /** Unsigned 32-bit: OIDs, xids, counts. */
  u32(what: string): number {
    if (this.end - this.pos < 4) this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return uint32At(b, p);
  }

  /** Signed 32-bit: type modifiers. */
  i32(what: string): number {
    if (this.end - this.pos < 4) this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return int32At(b, p);
  }

  /**
   * A byte length (Int32 on the wire) that must fit in what is left: a
   * negative or too-large value fails before anything is allocated.
   */
  length(what: string): number {
    const at = this.pos;
    const n = this.i32(what);
    if (n < 0) this.fail('oversized', `${what} is ${n >>> 0}, above the 1 GB PostgreSQL limit`, at);
    if (n > this.end - this.pos) {
      this.fail(
        'truncated',
        `${what} is ${n} bytes but only ${this.end - this.pos} remain; pass whole messages`,
        at,
      );
    }
    return n;
  }

  /** Unsigned 64-bit: LSNs. */
  u64(what: string): bigint {
    if (this.end - this.pos < 8) this.need(8, what);
    const p = this.pos;
    this.pos = p + 8;
    return uint64At(this.buf, p);
  }

  /** Signed 64-bit: timestamps (microseconds since 2000-01-01, `infinity` = int64 max). */
  i64(what: string): bigint {
    if (this.end - this.pos < 8) this.need(8, what);
    const p = this.pos;
    this.pos = p + 8;
    return int64At(this.buf, p);
  }

  /** A NUL-terminated UTF-8 string (names, prefixes, GIDs). */
  cstring(what: string): string {
    const start = this.pos;
    const nul = this.buf.indexOf(0, start);
    if (nul < 0) this.fail('truncated', `${what} has no terminating NUL byte before the end`);
    this.pos = nul + 1;
    return this.text(start, nul, what);
  }

  /** `n` bytes as UTF-8 text; the caller has checked the bounds. */
  text(start: number, end: number, what: string): string {
    try {
      return utf8Text(this.buf, start, end);
    } catch (err: unknown) {
      return this.fail(
        'invalid_utf8',
        `${what} is not valid UTF-8; connect with client_encoding=UTF8`,
        start,
        err,
      );
    }
  }

  /** A fresh copy of `n` bytes (never a view: callers reuse their buffers). */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    out.set(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /** Fails unless the whole input was consumed. */
  done(): void {
    if (this.pos !== this.end) {
      this.fail(
        'trailing_bytes',
        `${this.end - this.pos} bytes left after a complete message; check the protocol version and framing`,
      );
    }
  }
}
