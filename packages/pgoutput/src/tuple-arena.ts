import { PgoutputDecodeError, PgoutputError } from './errors.js';
import { type TupleValue, UNCHANGED_TOAST } from './messages.js';
import { ColumnKind } from './tags.js';
import type { TupleView } from './tuple-view.js';
import { utf8Text } from './utf8-text.js';

/** `ArenaTuple.offsets` entry of a NULL column. */
export const ARENA_NULL = -1;
/** `ArenaTuple.offsets` entry of an unchanged TOAST column ('u'). */
export const ARENA_UNCHANGED = -2;

/**
 * A tuple copied out of a message into an arena: column `i`'s text value is
 * `bytes[offsets[at + 2i], + offsets[at + 2i + 1])`, or the start entry is
 * `ARENA_NULL` / `ARENA_UNCHANGED`. `bytes` and `offsets` are shared with the
 * other tuples of the same arena chunk: never write them.
 */
export interface ArenaTuple {
  readonly bytes: Uint8Array;
  readonly offsets: Int32Array;
  readonly at: number;
  readonly count: number;
  /**
   * Binary mode: the values are in their types' binary send format, and
   * `binary[i]` turns column `i`'s into its text (the caller's decoders, one
   * array per relation). Undefined for a text-format tuple.
   */
  readonly binary?: ArenaBinaryDecoders | undefined;
}

/** Per column, a decoder from the binary send format to PostgreSQL's text output. */
export type ArenaBinaryDecoders = readonly ((
  bytes: Uint8Array,
  start: number,
  length: number,
) => string)[];

const DEFAULT_CHUNK_BYTES = 256 * 1024;
/** Rows up to this many bytes are copied byte by byte. */
const SMALL_COPY = 256;

/**
 * Keeps tuples as byte ranges in pooled chunks instead of a string per
 * value: `add` copies one tuple's value bytes (one contiguous copy, a
 * tuple's values follow each other in the message) and its column offsets
 * into the current chunks and returns a small record pointing at them. A
 * chunk is garbage once no tuple that points into it is referenced, so what
 * a queue holds stays bounded by the queue. A tuple is all text or, given
 * decoders, all binary: a column of the other format returns undefined
 * (decode such a message with the object decoder).
 */
export class TupleArena {
  private bytes: Uint8Array;
  private bytePos = 0;
  private offsets: Int32Array;
  private offsetPos = 0;

  constructor(private readonly chunkBytes = DEFAULT_CHUNK_BYTES) {
    if (!(Number.isInteger(chunkBytes) && chunkBytes >= 64)) {
      throw new PgoutputError('invalid_argument', 'TupleArena chunkBytes must be an integer >= 64');
    }
    this.bytes = new Uint8Array(chunkBytes);
    this.offsets = new Int32Array(chunkBytes >> 3);
  }

  /**
   * Copies the tuple `t` is on. Text format without `binary`; with it (binary
   * mode, one decoder per column) binary format. Undefined when a value has
   * the other format.
   */
  add(t: TupleView, binary?: ArenaBinaryDecoders): ArenaTuple | undefined {
    const n = t.count;
    const want = binary === undefined ? ColumnKind.Text : ColumnKind.Binary;
    const other = binary === undefined ? ColumnKind.Binary : ColumnKind.Text;
    if (binary !== undefined && binary.length !== n) return undefined;
    let first = -1;
    let end = 0;
    for (let i = 0; i < n; i++) {
      const kind = t.kind(i);
      if (kind === other) return undefined;
      if (kind === want) {
        if (first < 0) first = t.offset(i);
        end = t.offset(i) + t.length(i);
      }
    }
    const size = first < 0 ? 0 : end - first;
    if (this.bytePos + size > this.bytes.length) {
      this.bytes = new Uint8Array(Math.max(this.chunkBytes, size));
      this.bytePos = 0;
    }
    if (this.offsetPos + 2 * n > this.offsets.length) {
      this.offsets = new Int32Array(Math.max(this.chunkBytes >> 3, 2 * n));
      this.offsetPos = 0;
    }
    const base = this.bytePos;
    if (size > SMALL_COPY) this.bytes.set(t.buffer.subarray(first, end), base);
    else {
      // A typical row is a few dozen bytes: a loop makes no view object (one per row otherwise).
      const src = t.buffer;
      const dst = this.bytes;
      for (let k = 0; k < size; k++) dst[base + k] = src[first + k]!;
    }
    const o = this.offsets;
    const at = this.offsetPos;
    for (let i = 0; i < n; i++) {
      const kind = t.kind(i);
      if (kind === want) {
        o[at + 2 * i] = base + t.offset(i) - first;
        o[at + 2 * i + 1] = t.length(i);
      } else {
        o[at + 2 * i] = kind === ColumnKind.Null ? ARENA_NULL : ARENA_UNCHANGED;
        o[at + 2 * i + 1] = 0;
      }
    }
    this.bytePos += size;
    this.offsetPos += 2 * n;
    return { bytes: this.bytes, offsets: o, at, count: n, binary };
  }
}

/**
 * An arena tuple's values as the object decoder gives them: strings (text
 * mode) or fresh copies of the bytes (binary mode), `null` and
 * `UNCHANGED_TOAST`. Invalid UTF-8 throws
 * `PgoutputDecodeError` `invalid_utf8` (its offset is the column's index:
 * the message it came from is gone).
 */
export function arenaValues(t: ArenaTuple): TupleValue[] {
  const out: TupleValue[] = new Array(t.count);
  for (let i = 0; i < t.count; i++) {
    const start = t.offsets[t.at + 2 * i]!;
    if (start === ARENA_NULL) out[i] = null;
    else if (start === ARENA_UNCHANGED) out[i] = UNCHANGED_TOAST;
    else if (t.binary !== undefined)
      out[i] = t.bytes.slice(start, start + t.offsets[t.at + 2 * i + 1]!);
    else {
      try {
        out[i] = utf8Text(t.bytes, start, start + t.offsets[t.at + 2 * i + 1]!);
      } catch (err: unknown) {
        throw new PgoutputDecodeError(
          'invalid_utf8',
          `value of column ${i + 1} is not valid UTF-8; connect with client_encoding=UTF8`,
          { tag: undefined, offset: i, protoVersion: 0 },
          { cause: err },
        );
      }
    }
  }
  return out;
}
