/** array_out rebuilt from array_send, over the element type's decoder. */
import { int32At, uint32At } from './big-endian.js';
import type { BinaryTextDecoder } from './binary-text.js';
import { checkRange, invalid } from './binary-text-common.js';

/** array_out quotes an element that is empty, NULL in any case, or holds a delimiter, brace, quote, backslash or space. */
function arrayElementText(text: string, delim: number): string {
  const n = text.length;
  let quote = n === 0 || (n === 4 && isNullWord(text));
  let escapes = false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) {
      quote = true;
      escapes = true;
      break;
    }
    if (
      c === 0x7b ||
      c === 0x7d ||
      c === delim ||
      c === 0x20 ||
      (c >= 0x09 && c <= 0x0d) // \t \n \v \f \r
    ) {
      quote = true;
    }
  }
  if (!quote) return text;
  return '"' + (escapes ? text.replace(/["\\]/g, '\\$&') : text) + '"';
}

/** pg_strcasecmp(text, "NULL") == 0: ASCII letters only, as the server compares bytes. */
function isNullWord(t: string): boolean {
  return (
    (t.charCodeAt(0) | 0x20) === 0x6e &&
    (t.charCodeAt(1) | 0x20) === 0x75 &&
    (t.charCodeAt(2) | 0x20) === 0x6c &&
    (t.charCodeAt(3) | 0x20) === 0x6c
  );
}

/** array_send: ndim, has-null flag, element OID, (size, lower bound) per dimension, then each element as int32 length (-1: NULL) and bytes. */
export function arrayDecoder(
  type: string,
  elementOid: number,
  element: BinaryTextDecoder,
  delimiter: string,
): BinaryTextDecoder {
  const delim = delimiter.length === 1 ? delimiter.charCodeAt(0) : 0x2c;
  const sep = delimiter.length === 1 ? delimiter : ',';
  return (b, s, n) => {
    checkRange(type, b, s, n);
    if (n < 12) throw invalid(type, `has ${n} bytes; expected at least 12`);
    const ndim = int32At(b, s);
    const flags = int32At(b, s + 4);
    const oid = uint32At(b, s + 8);
    if (ndim < 0 || ndim > 6) throw invalid(type, `has ${ndim} dimensions`);
    if (flags !== 0 && flags !== 1) throw invalid(type, `has flags ${flags}`);
    if (oid !== elementOid)
      throw invalid(type, `holds elements of type OID ${oid}; expected ${elementOid}`);
    const end = s + n;
    let p = s + 12 + 8 * ndim;
    if (p > end) throw invalid(type, `of ${ndim} dimensions has only ${n} bytes`);
    const dims: number[] = [];
    let items = 1;
    let decorate = false;
    let bounds = '';
    for (let i = 0; i < ndim; i++) {
      const size = int32At(b, s + 12 + 8 * i);
      const lower = int32At(b, s + 16 + 8 * i);
      if (size < 0 || lower + size > 0x7fff_ffff) {
        throw invalid(type, `has dimension ${i + 1} of size ${size} from ${lower}`);
      }
      dims.push(size);
      items *= size;
      if (lower !== 1) decorate = true;
      bounds += '[' + lower + ':' + (lower + size - 1) + ']';
    }
    if (ndim === 0 || items === 0) {
      if (p !== end) throw invalid(type, `is empty but has ${end - p} more bytes`);
      return '{}';
    }
    // Each element takes at least its 4-byte length: no loop runs past what the bytes can hold.
    if (items > (end - p) / 4) throw invalid(type, `claims ${items} elements in ${n} bytes`);
    const emit = (dim: number): string => {
      let out = '{';
      const size = dims[dim]!;
      for (let i = 0; i < size; i++) {
        if (i > 0) out += sep;
        if (dim < ndim - 1) {
          out += emit(dim + 1);
          continue;
        }
        if (p + 4 > end) throw invalid(type, 'ends inside an element length');
        const len = int32At(b, p);
        p += 4;
        if (len === -1) {
          out += 'NULL';
          continue;
        }
        if (len < 0 || len > end - p) throw invalid(type, `has an element of length ${len}`);
        out += arrayElementText(element(b, p, len), delim);
        p += len;
      }
      return out + '}';
    };
    const text = emit(0);
    if (p !== end) throw invalid(type, `has ${end - p} bytes after its last element`);
    return decorate ? bounds + '=' + text : text;
  };
}
