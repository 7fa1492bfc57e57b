import {
  type ChangeTuple,
  UNCHANGED,
  WIRE_NULL,
  WIRE_UNCHANGED,
  type WireTuple,
} from './change.js';
import { ApplyError } from './errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Short ASCII values (keys, numbers, dates) without a TextDecoder call and its subarray. */
const SHORT = 24;

/** Column `i`'s text; the caller has checked that it holds a value. */
function textAt(w: WireTuple, start: number, length: number, i: number): string {
  const b = w.bytes;
  if (length <= SHORT) {
    let s = '';
    for (let k = start; k < start + length; k++) {
      const c = b[k]!;
      if (c >= 0x80) return decode(w, start, length, i);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decode(w, start, length, i);
}

function decode(w: WireTuple, start: number, length: number, i: number): string {
  try {
    return utf8.decode(w.bytes.subarray(start, start + length));
  } catch (e) {
    throw new ApplyError(
      'invalid_input',
      `column ${i + 1} of a row is not valid UTF-8; connect to the source with client_encoding=UTF8`,
      { cause: e },
    );
  }
}

/** Column `i` as a `ChangeTuple` value: a string, `null`, or `UNCHANGED`. */
export function wireValue(w: WireTuple, i: number): ChangeTuple[number] {
  if (i >= w.count) return null;
  const start = w.offsets[w.at + 2 * i]!;
  if (start === WIRE_NULL) return null;
  if (start === WIRE_UNCHANGED) return UNCHANGED;
  return textAt(w, start, w.offsets[w.at + 2 * i + 1]!, i);
}

/** The whole row decoded, as a reader that sends strings would have given it. */
export function wireValues(w: WireTuple): ChangeTuple {
  const out: ChangeTuple = new Array(w.count);
  for (let i = 0; i < w.count; i++) out[i] = wireValue(w, i);
  return out;
}

/** Checks what the engine relies on before it reads a wire tuple: offsets in range, one entry pair per column. */
export function checkWire(w: WireTuple, columns: number): string | undefined {
  if (!(w.bytes instanceof Uint8Array) || !(w.offsets instanceof Int32Array))
    return 'wire.bytes must be a Uint8Array and wire.offsets an Int32Array';
  if (w.count !== columns) return `wire has ${w.count} columns, the relation ${columns}`;
  if (!Number.isInteger(w.at) || w.at < 0 || w.at + 2 * w.count > w.offsets.length)
    return 'wire.at and wire.count point outside wire.offsets';
  for (let i = 0; i < w.count; i++) {
    const start = w.offsets[w.at + 2 * i]!;
    const length = w.offsets[w.at + 2 * i + 1]!;
    if (start === WIRE_NULL || start === WIRE_UNCHANGED) continue;
    if (start < 0 || length < 0 || start + length > w.bytes.length)
      return `column ${i + 1} lies outside wire.bytes`;
  }
  return undefined;
}
