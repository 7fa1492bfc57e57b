import type { WireTuple } from '../change.js';
import { wireValue } from '../wire-tuple.js';

/** Rows of a COPY text payload, written into chunks of about this many bytes. */
const CHUNK_BYTES = 64 * 1024;
const SPECIAL = /[\\\t\n\r]/;
const SPECIAL_ALL = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * One value in COPY text format: backslash, tab, newline and carriage return
 * escaped (nothing else is special in text format with the default
 * delimiter); NULL is written by the caller as `\N`.
 */
export function copyEscape(v: string): string {
  return SPECIAL.test(v) ? v.replace(SPECIAL_ALL, (c) => ESCAPES[c]!) : v;
}

const EMPTY = Buffer.alloc(0);
const TAB = 0x09;
const NL = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
/** Per ASCII byte: the letter that follows the backslash of its COPY escape, 0 when it passes as it is. */
const ESCAPE = new Uint8Array(0x80);
ESCAPE[BACKSLASH] = BACKSLASH;
ESCAPE[TAB] = 0x74; // t
ESCAPE[NL] = 0x6e; // n
ESCAPE[CR] = 0x72; // r

/**
 * A COPY payload's buffers, filled row by row straight from the values (no
 * string per row or per value: at 100,000 rows a second those are most of
 * what the garbage collector has to do). Rows never cross a chunk, which
 * COPY does not need anyway.
 */
abstract class PayloadChunks {
  private readonly chunks: Buffer[] = [];
  protected buf: Buffer = EMPTY;
  protected pos = 0;
  protected rowStart = 0;
  rows = 0;

  protected byte(b: number): void {
    if (this.pos >= this.buf.length) this.grow(1);
    this.buf[this.pos++] = b;
  }

  /** Room for `need` more bytes: the current row moves to a fresh chunk, the rows before it stay. */
  protected grow(need: number): void {
    const partial = this.buf.subarray(this.rowStart, this.pos);
    this.cut(this.rowStart);
    const size = Math.max(CHUNK_BYTES, partial.length + need + 1);
    const next = Buffer.allocUnsafe(size);
    partial.copy(next, 0);
    this.buf = next;
    this.pos = partial.length;
    this.rowStart = 0;
  }

  /** Ends the row begun at `rowStart`; a full chunk is cut behind it. */
  protected rowDone(): void {
    this.rows++;
    if (this.pos >= CHUNK_BYTES) this.cut(this.pos);
  }

  /** Ends the current chunk at `end` (a row boundary) and starts a new one. */
  private cut(end: number): void {
    if (end > 0) this.chunks.push(this.buf.subarray(0, end));
    this.buf = EMPTY;
    this.pos = 0;
    this.rowStart = 0;
  }

  /** The payload's chunks; the builder is empty afterwards. */
  take(): Buffer[] {
    if (this.pos > 0) this.cut(this.pos);
    const out = this.chunks.splice(0);
    this.rows = 0;
    return out;
  }
}

/** Builds a COPY text payload row by row (see `PayloadChunks`). */
export class CopyPayload extends PayloadChunks {
  private cells = 0;

  /** Appends one row; `null` is NULL. Values are PostgreSQL text. */
  row(values: readonly (string | null)[]): void {
    this.beginRow();
    for (let i = 0; i < values.length; i++) this.cell(values[i] ?? null);
    this.endRow();
  }

  /**
   * Appends one row straight from a wire tuple's bytes: `sid` first when
   * given, then the tuple's columns `src` in order (NULL and unchanged TOAST
   * as `\N`, as `row` writes them). No string per value: only COPY's
   * escaping, byte by byte.
   */
  wireRow(sid: string | undefined, w: WireTuple, src: readonly number[]): void {
    this.beginRow();
    if (sid !== undefined) this.cell(sid);
    for (let i = 0; i < src.length; i++) this.wireCell(w, src[i]!);
    this.endRow();
  }

  /** Starts a row written cell by cell (`cell`, `wireCell`, `intCell`), ended by `endRow`. */
  beginRow(): void {
    this.rowStart = this.pos;
    this.cells = 0;
  }

  /** One value of the current row; `null` is NULL. */
  cell(v: string | null): void {
    if (this.cells++ > 0) this.byte(TAB);
    if (v === null) this.nullValue();
    else this.value(v);
  }

  /**
   * Column `c` of a wire tuple, as bytes (NULL and unchanged TOAST as `\N`);
   * a binary-mode value through its decoder.
   */
  wireCell(w: WireTuple, c: number): void {
    if (this.cells++ > 0) this.byte(TAB);
    const start = c < w.count ? w.offsets[w.at + 2 * c]! : -1;
    if (start < 0) this.nullValue();
    else if (w.binary !== undefined) this.value(wireValue(w, c) as string);
    else this.bytes(w.bytes, start, w.offsets[w.at + 2 * c + 1]!);
  }

  /** A non-negative integer, digit by digit (no string). */
  intCell(n: number): void {
    if (this.cells++ > 0) this.byte(TAB);
    if (this.pos + 16 > this.buf.length) this.grow(16);
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    let pos = this.pos + digits;
    this.pos = pos;
    let x = n;
    do {
      this.buf[--pos] = 0x30 + (x % 10);
      x = Math.floor(x / 10);
    } while (x > 0);
  }

  endRow(): void {
    this.byte(NL);
    this.rowDone();
  }

  private nullValue(): void {
    this.byte(BACKSLASH);
    this.byte(0x4e); // N
  }

  /** UTF-8 bytes of one value, escaped (the bytes of every special character are ASCII, so no decoding is needed). */
  private bytes(b: Uint8Array, start: number, length: number): void {
    if (this.pos + length * 2 > this.buf.length) this.grow(length * 2);
    const buf = this.buf;
    let pos = this.pos;
    const end = start + length;
    for (let k = start; k < end; k++) {
      const c = b[k]!;
      const e = c < 0x80 ? ESCAPE[c]! : 0;
      if (e !== 0) {
        buf[pos++] = BACKSLASH;
        buf[pos++] = e;
      } else buf[pos++] = c;
    }
    this.pos = pos;
  }

  /** ASCII (the usual case) byte by byte; anything else through Buffer#write, escaped first. */
  private value(v: string): void {
    // Worst case: 3 bytes per UTF-16 unit, or 2 per escaped ASCII character.
    if (this.pos + v.length * 3 > this.buf.length) this.grow(v.length * 3);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c >= 0x80) {
        this.pos = pos;
        this.pos += buf.write(copyEscape(v.slice(i)), pos, 'utf8');
        return;
      }
      const e = ESCAPE[c]!;
      if (e !== 0) {
        buf[pos++] = BACKSLASH;
        buf[pos++] = e;
      } else buf[pos++] = c;
    }
    this.pos = pos;
  }
}

/** COPY's binary signature, then flags and header-extension length (both 0). */
const BINARY_HEADER = Buffer.from([
  0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
]);

/**
 * Builds a `COPY ... (FORMAT binary)` payload from binary-mode wire tuples:
 * each value is the source's send format, which the target's receive
 * function of the same type takes as it is (no decoding, no escaping, and
 * the destination skips parsing text). The caller checks that every column
 * has the same built-in type on both sides.
 */
export class CopyBinaryPayload extends PayloadChunks {
  private started = false;

  /** Starts a row of `fields` values. */
  beginRow(fields: number): void {
    if (!this.started) {
      this.started = true;
      this.raw(BINARY_HEADER, 0, BINARY_HEADER.length);
    }
    this.rowStart = this.pos;
    this.int16(fields);
  }

  /** Column `c` of a binary wire tuple (NULL and unchanged TOAST as NULL). */
  wireCell(w: WireTuple, c: number): void {
    const start = c < w.count ? w.offsets[w.at + 2 * c]! : -1;
    if (start < 0) this.int32(-1);
    else this.value(w.bytes, start, w.offsets[w.at + 2 * c + 1]!);
  }

  /** One value already in its binary format. */
  value(b: Uint8Array, start: number, length: number): void {
    this.int32(length);
    this.raw(b, start, length);
  }

  endRow(): void {
    this.rowDone();
  }

  /** The payload's chunks, with the trailer; the builder is empty afterwards. */
  override take(): Buffer[] {
    if (this.started) this.int16(-1);
    this.started = false;
    return super.take();
  }

  private raw(b: Uint8Array, start: number, length: number): void {
    if (this.pos + length > this.buf.length) this.grow(length);
    if (length > 64) this.buf.set(b.subarray(start, start + length), this.pos);
    else for (let k = 0; k < length; k++) this.buf[this.pos + k] = b[start + k]!;
    this.pos += length;
  }

  private int16(n: number): void {
    if (this.pos + 2 > this.buf.length) this.grow(2);
    this.buf.writeInt16BE(n, this.pos);
    this.pos += 2;
  }

  private int32(n: number): void {
    if (this.pos + 4 > this.buf.length) this.grow(4);
    this.buf.writeInt32BE(n, this.pos);
    this.pos += 4;
  }
}
