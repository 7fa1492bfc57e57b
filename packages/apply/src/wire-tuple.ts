import {
  type ChangeTuple,
  UNCHANGED,
  WIRE_NULL,
  WIRE_UNCHANGED,
  type WireTuple,
} from './change.js';
import { ApplyError } from './errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// Node's native latin1 slice makes an ASCII value's string in one call (no TextDecoder, no subarray).
const latin1Slice = (
  Buffer.prototype as unknown as {
    latin1Slice: (this: Uint8Array, start: number, end: number) => string;
  }
).latin1Slice;

/** Column `i`'s text; the caller has checked that it holds a value. */
function textAt(w: WireTuple, start: number, length: number, i: number): string {
  const b = w.bytes;
  const end = start + length;
  let bits = 0;
  for (let k = start; k < end; k++) bits |= b[k]!;
  return bits < 0x80 ? latin1Slice.call(b, start, end) : decode(w, start, length, i);
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
  const length = w.offsets[w.at + 2 * i + 1]!;
  return w.binary === undefined ? textAt(w, start, length, i) : binaryText(w, start, length, i);
}

function binaryText(w: WireTuple, start: number, length: number, i: number): string {
  try {
    return w.binary![i]!(w.bytes, start, length);
  } catch (e) {
    throw new ApplyError(
      'invalid_input',
      `column ${i + 1} of a row has a binary value its decoder refused (${e instanceof Error ? e.message : String(e)}); read the source in text mode (binary: false)`,
      { cause: e },
    );
  }
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
  if (
    w.binary !== undefined &&
    (w.binary.length !== w.count || !w.binary.every((d) => typeof d === 'function'))
  )
    return 'wire.binary must hold one decoder function per column';
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
