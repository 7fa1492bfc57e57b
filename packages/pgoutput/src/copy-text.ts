import type { CopyBuffer } from './copy-buffer.js';
import { assertBytes, PgoutputError } from './errors.js';
import { ColumnKind } from './tags.js';
import type { TupleView } from './tuple-view.js';

const BACKSLASH = 0x5c;
const TAB = 0x09;
const NEWLINE = 0x0a;

/**
 * The escape letter of each byte that COPY's text format must escape, 0 for
 * every other byte. PostgreSQL requires a backslash before a backslash,
 * newline, carriage return and the delimiter (tab) inside a value; every
 * other byte, multi-byte UTF-8 included, passes as it is. The NULL marker
 * `\N` is written unescaped, so a value `\N` (escaped `\\N`) and a value
 * `\.` (escaped `\\.`, never the end-of-data line) stay values.
 */
const ESCAPE = new Uint8Array(256);
ESCAPE[BACKSLASH] = 0x5c; // '\\'
ESCAPE[TAB] = 0x74; // 't'
ESCAPE[NEWLINE] = 0x6e; // 'n'
ESCAPE[0x0d] = 0x72; // 'r'

/**
 * Appends the text-format value `src[start, end)` to `out` as one COPY text
 * field: the bytes as they are, with COPY's escaping only. No string is made.
 */
export function appendCopyText(
  out: CopyBuffer,
  src: Uint8Array,
  start = 0,
  end: number = src.length,
): void {
  assertBytes(src, 'appendCopyText');
  if (!(start >>> 0 === start && end >>> 0 === end && start <= end && end <= src.length)) {
    throw new PgoutputError(
      'invalid_argument',
      `appendCopyText: bytes ${String(start)} to ${String(end)} do not lie within the ${src.length}-byte value`,
    );
  }
  const d = out.reserve(2 * (end - start));
  out.length = escapeInto(d, out.length, src, start, end);
}

/** Appends COPY text's NULL marker, `\N`. */
export function appendCopyNull(out: CopyBuffer): void {
  const d = out.reserve(2);
  d[out.length] = BACKSLASH;
  d[out.length + 1] = 0x4e; // 'N'
  out.length += 2;
}

/**
 * Appends one COPY text row: the columns of `tuple` listed in `columns`
 * (all, in order, when omitted), tab-separated and newline-terminated, with
 * NULL as `\N`. A row with an unchanged TOAST value (the server did not
 * send it) or a binary-format value cannot be a COPY text row: it throws
 * `PgoutputError` `invalid_argument` before writing anything.
 */
export function writeCopyRow(out: CopyBuffer, tuple: TupleView, columns?: ArrayLike<number>): void {
  const n = columns === undefined ? tuple.count : columns.length;
  // First pass: every column is checked and the row sized (each byte may
  // double), so the buffer grows at most once and a refused row leaves
  // nothing behind.
  let size = n + 1; // separators and the newline
  for (let k = 0; k < n; k++) {
    const i = columns === undefined ? k : columns[k]!;
    const kind = tuple.kind(i);
    if (kind === ColumnKind.Text) size += 2 * tuple.length(i);
    else if (kind === ColumnKind.Null) size += 2;
    else refuse(i, kind);
  }
  const d = out.reserve(size);
  const src = tuple.buffer;
  let o = out.length;
  for (let k = 0; k < n; k++) {
    if (k > 0) d[o++] = TAB;
    const i = columns === undefined ? k : columns[k]!;
    if (tuple.kind(i) === ColumnKind.Null) {
      d[o++] = BACKSLASH;
      d[o++] = 0x4e; // 'N'
    } else {
      const start = tuple.offset(i);
      o = escapeInto(d, o, src, start, start + tuple.length(i));
    }
  }
  d[o++] = NEWLINE;
  out.length = o;
}

/** Writes `src[start, end)` escaped at `d[o]`; returns the end. `d` has room for twice the bytes. */
function escapeInto(d: Uint8Array, o: number, src: Uint8Array, start: number, end: number): number {
  let at = o;
  for (let i = start; i < end; i++) {
    const c = src[i]!;
    const e = ESCAPE[c]!;
    if (e === 0) {
      d[at++] = c;
    } else {
      d[at++] = BACKSLASH;
      d[at++] = e;
    }
  }
  return at;
}

function refuse(i: number, kind: number): never {
  throw new PgoutputError(
    'invalid_argument',
    kind === ColumnKind.UnchangedToast
      ? `column index ${i} is an unchanged TOAST value the server did not send: a COPY row cannot hold it; leave the column out (update the row without it)`
      : `column index ${i} is a binary-format value (pgoutput binary mode): a COPY text row needs text values; read in text mode or use COPY BINARY`,
  );
}
