import type { BufferReader } from './buffer-reader.js';
import { type Tuple, type TupleValue, UNCHANGED_TOAST } from './messages.js';
import { ColumnKind } from './tags.js';

/** TupleData: Int16 column count, then per column a kind byte and maybe a counted value. */
export function readTuple(r: BufferReader): Tuple {
  const n = r.u16('tuple column count');
  // Every column takes at least its kind byte: a count the input cannot hold
  // is refused before the array is allocated.
  if (n > r.end - r.pos) r.need(n, `tuple of ${n} columns`);
  const out: TupleValue[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const kind = r.u8('column kind');
    if (kind === ColumnKind.Text) {
      const len = r.length('text column length');
      const start = r.pos;
      r.pos = start + len;
      out[i] = r.text(start, start + len, 'text column value');
    } else if (kind === ColumnKind.Null) {
      out[i] = null;
    } else if (kind === ColumnKind.UnchangedToast) {
      out[i] = UNCHANGED_TOAST;
    } else if (kind === ColumnKind.Binary) {
      out[i] = r.bytes(r.length('binary column length'));
    } else {
      r.fail(
        'invalid',
        `column ${i + 1} has kind byte 0x${kind.toString(16).padStart(2, '0')}; expected 'n', 'u', 't' or 'b'`,
        r.pos - 1,
      );
    }
  }
  return out;
}
