import { hashBytes, hashKind } from './column-hash.js';
import { PgoutputDecodeError, PgoutputError } from './errors.js';
import { type TupleValue, UNCHANGED_TOAST } from './messages.js';
import { ColumnKind } from './tags.js';
import { utf8Text } from './utf8-text.js';

const EMPTY = new Uint8Array(0);
const INITIAL_COLUMNS = 16;

/**
 * One tuple (TupleData) of the message a `MessageView` is on: per column its
 * kind and where its value bytes lie in the message's buffer. Nothing is
 * decoded until asked (`text`, `value`), and nothing is allocated per
 * message: the per-column arrays are reused and grow only for a wider
 * tuple than seen before. Valid until the view's next `reset`.
 */
export class TupleView {
  private buf: Uint8Array = EMPTY;
  private n = 0;
  private toast = false;
  private kinds = new Uint8Array(INITIAL_COLUMNS);
  private offsets = new Int32Array(INITIAL_COLUMNS);
  private lengths = new Int32Array(INITIAL_COLUMNS);
  // For errors raised lazily (invalid UTF-8): offsets are reported relative
  // to the message, as the object decoder reports them.
  private base = 0;
  private tag = 0;
  private protoVersion = 0;

  /** Number of columns. */
  get count(): number {
    return this.n;
  }

  /** The buffer that `offset(i)` points into (the one the view was reset onto). */
  get buffer(): Uint8Array {
    return this.buf;
  }

  /** True when a column is an unchanged TOAST value (`'u'`), which a COPY row cannot hold. */
  get hasUnchangedToast(): boolean {
    return this.toast;
  }

  /** The kind byte of column `i`: `ColumnKind.Null` 'n', `UnchangedToast` 'u', `Text` 't' or `Binary` 'b'. */
  kind(i: number): number {
    this.check(i);
    return this.kinds[i]!;
  }

  /** Byte offset of column `i`'s value in `buffer` (for 'n' and 'u', where its value would be). */
  offset(i: number): number {
    this.check(i);
    return this.offsets[i]!;
  }

  /** Byte length of column `i`'s value (0 for 'n' and 'u'). */
  length(i: number): number {
    this.check(i);
    return this.lengths[i]!;
  }

  /**
   * Column `i`'s text value as a string, decoded now. Throws
   * `PgoutputDecodeError` `invalid_utf8` (the same error the object decoder
   * throws for the message) when the bytes are not UTF-8, and
   * `PgoutputError` `invalid_argument` for a column that is not text.
   */
  text(i: number): string {
    this.check(i);
    const kind = this.kinds[i]!;
    if (kind !== ColumnKind.Text) {
      throw new PgoutputError(
        'invalid_argument',
        `column index ${i} is ${kindName(kind)}, not text; check kind(i) first, or use value(i)`,
      );
    }
    const start = this.offsets[i]!;
    try {
      return utf8Text(this.buf, start, start + this.lengths[i]!);
    } catch (err: unknown) {
      throw new PgoutputDecodeError(
        'invalid_utf8',
        'text column value is not valid UTF-8; connect with client_encoding=UTF8',
        {
          tag: String.fromCharCode(this.tag),
          offset: start - this.base,
          protoVersion: this.protoVersion,
        },
        { cause: err },
      );
    }
  }

  /**
   * Column `i` as the object decoder gives it: `null`, `UNCHANGED_TOAST`, a
   * string, or a fresh copy of binary bytes. For converting at an edge.
   */
  value(i: number): TupleValue {
    this.check(i);
    switch (this.kinds[i]) {
      case ColumnKind.Null:
        return null;
      case ColumnKind.UnchangedToast:
        return UNCHANGED_TOAST;
      case ColumnKind.Text:
        return this.text(i);
      default: {
        // A plain copy: Buffer's slice would be a view.
        const start = this.offsets[i]!;
        const out = new Uint8Array(this.lengths[i]!);
        out.set(this.buf.subarray(start, start + out.length));
        return out;
      }
    }
  }

  /** Column `i`'s value bytes as a view into `buffer` (not a copy); empty for 'n' and 'u'. */
  bytes(i: number): Uint8Array {
    this.check(i);
    const start = this.offsets[i]!;
    return this.buf.subarray(start, start + this.lengths[i]!);
  }

  /**
   * True when column `i` is text or binary and its value bytes equal
   * `other[start..end)`; false for NULL and unchanged TOAST.
   */
  equalsBytes(i: number, other: Uint8Array, start = 0, end: number = other.length): boolean {
    this.check(i);
    const kind = this.kinds[i]!;
    if (kind !== ColumnKind.Text && kind !== ColumnKind.Binary) return false;
    const len = this.lengths[i]!;
    if (end - start !== len) return false;
    const b = this.buf;
    const at = this.offsets[i]! - start;
    for (let k = start; k < end; k++) if (b[at + k] !== other[k]) return false;
    return true;
  }

  /**
   * True when column `i` here and column `j` of `other` hold the same kind
   * and the same bytes: a byte identity (NULL equals NULL), e.g. to tell
   * whether an Update changed its key.
   */
  equalsColumn(i: number, other: TupleView, j: number = i): boolean {
    other.check(j);
    const kind = other.kinds[j]!;
    if (this.kind(i) !== kind) return false;
    if (kind !== ColumnKind.Text && kind !== ColumnKind.Binary) return true;
    const start = other.offsets[j]!;
    return this.equalsBytes(i, other.buf, start, start + other.lengths[j]!);
  }

  /**
   * A 32-bit hash of column `i`'s value bytes (see `hashBytes`), or of its
   * kind for NULL and unchanged TOAST. Chain key columns through `seed`.
   */
  hashColumn(i: number, seed?: number): number {
    this.check(i);
    const kind = this.kinds[i]!;
    if (kind !== ColumnKind.Text && kind !== ColumnKind.Binary) return hashKind(kind, seed);
    const start = this.offsets[i]!;
    return hashBytes(this.buf, start, start + this.lengths[i]!, seed);
  }

  /**
   * @internal Used by `MessageView`: reads a TupleData at `p` (Int16 column
   * count, then per column a kind byte and for 't' / 'b' an Int32 length and
   * the value). Returns the position after it, or -1 when the bytes are not
   * a well-formed tuple within `end`: the view then lets the object decoder
   * report exactly what is wrong. One check per column, none per byte.
   */
  scan(buf: Uint8Array, p: number, end: number, base: number, tag: number, proto: number): number {
    if (end - p < 2) return -1;
    const n = (buf[p]! << 8) | buf[p + 1]!;
    let pos = p + 2;
    // Every column takes at least its kind byte: a count the input cannot
    // hold is refused before the arrays grow.
    if (n > end - pos) return -1;
    if (n > this.kinds.length) this.grow(n);
    const kinds = this.kinds;
    const offsets = this.offsets;
    const lengths = this.lengths;
    let toast = false;
    for (let i = 0; i < n; i++) {
      if (pos >= end) return -1;
      const kind = buf[pos++]!;
      kinds[i] = kind;
      if (kind === ColumnKind.Text || kind === ColumnKind.Binary) {
        if (end - pos < 4) return -1;
        const len =
          (buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!;
        pos += 4;
        // A negative (high-bit) length fails here as well as a long one.
        if (len < 0 || len > end - pos) return -1;
        offsets[i] = pos;
        lengths[i] = len;
        pos += len;
      } else if (kind === ColumnKind.Null || kind === ColumnKind.UnchangedToast) {
        toast ||= kind === ColumnKind.UnchangedToast;
        offsets[i] = pos;
        lengths[i] = 0;
      } else {
        return -1;
      }
    }
    this.buf = buf;
    this.n = n;
    this.toast = toast;
    this.base = base;
    this.tag = tag;
    this.protoVersion = proto;
    return pos;
  }

  /** @internal Used by `MessageView` for a message without this tuple. */
  clear(): void {
    this.buf = EMPTY;
    this.n = 0;
    this.toast = false;
  }

  private check(i: number): void {
    if (!(i >>> 0 === i && i < this.n)) {
      throw new PgoutputError(
        'invalid_argument',
        `column index ${String(i)} is out of range; the tuple has ${this.n} columns`,
      );
    }
  }

  private grow(n: number): void {
    const size = Math.max(n, this.kinds.length * 2);
    this.kinds = new Uint8Array(size);
    this.offsets = new Int32Array(size);
    this.lengths = new Int32Array(size);
  }
}

function kindName(kind: number): string {
  switch (kind) {
    case ColumnKind.Null:
      return 'NULL';
    case ColumnKind.UnchangedToast:
      return 'an unchanged TOAST value (not sent)';
    default:
      return 'binary';
  }
}
