/** Decoders of the scalar types whose send formats need no calendar or float arithmetic. */
import { int16At, int32At, uint16At, uint32At } from './big-endian.js';
import type { BinaryTextDecoder } from './binary-text.js';
import { checkLength, checkRange, invalid, pad4 } from './binary-text-common.js';
import { utf8Text } from './utf8-text.js';

const fromCharCode = String.fromCharCode;
const hexUtf8 = new TextDecoder();

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const HEX_CODES = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  HEX_CODES[2 * i] = HEX[i]!.charCodeAt(0);
  HEX_CODES[2 * i + 1] = HEX[i]!.charCodeAt(1);
}

export function textDecoder(type: string): BinaryTextDecoder {
  return (b, s, n) => {
    checkRange(type, b, s, n);
    try {
      return utf8Text(b, s, s + n);
    } catch (e) {
      throw invalid(type, 'is not valid UTF-8', e);
    }
  };
}

export function jsonbDecoder(type: string): BinaryTextDecoder {
  // jsonb_send is a version byte and then jsonb_out's text.
  return (b, s, n) => {
    checkRange(type, b, s, n);
    if (n < 1 || b[s] !== 1) {
      throw invalid(type, `starts with version ${n < 1 ? 'none' : b[s]}; expected 1`);
    }
    try {
      return utf8Text(b, s + 1, s + n);
    } catch (e) {
      throw invalid(type, 'is not valid UTF-8', e);
    }
  };
}

export const boolDecoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('boolean', b, s, n, 1);
  return b[s] !== 0 ? 't' : 'f';
};

export const charDecoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('"char"', b, s, n, 1);
  const c = b[s]!;
  // charout (PostgreSQL 15+): NUL prints nothing, high-bit bytes as \ooo.
  if (c === 0) return '';
  if (c < 0x80) return fromCharCode(c);
  return '\\' + (c >> 6) + ((c >> 3) & 7) + (c & 7);
};

export const int2Decoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('smallint', b, s, n, 2);
  return '' + int16At(b, s);
};

export const int4Decoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('integer', b, s, n, 4);
  return '' + int32At(b, s);
};

export const oidDecoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('oid', b, s, n, 4);
  return '' + uint32At(b, s);
};

export const int8Decoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('bigint', b, s, n, 8);
  const hi = int32At(b, s);
  const lo = uint32At(b, s + 4);
  // Below 2^53 one float is exact: no bigint for the common case.
  if (hi >= -0x20_0000 && hi < 0x20_0000) return '' + (hi * 0x1_0000_0000 + lo);
  return '' + ((BigInt(hi) << 32n) | BigInt(lo));
};

export const byteaDecoder: BinaryTextDecoder = (b, s, n) => {
  checkRange('bytea', b, s, n);
  if (n <= 32) {
    let out = '\\x';
    for (let i = s; i < s + n; i++) out += HEX[b[i]!];
    return out;
  }
  const codes = new Uint8Array(2 + 2 * n);
  codes[0] = 0x5c;
  codes[1] = 0x78;
  for (let i = 0; i < n; i++) {
    const v = b[s + i]! * 2;
    codes[2 + 2 * i] = HEX_CODES[v]!;
    codes[3 + 2 * i] = HEX_CODES[v + 1]!;
  }
  return hexUtf8.decode(codes);
};

export const uuidDecoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('uuid', b, s, n, 16);
  let out = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += '-';
    out += HEX[b[s + i]!];
  }
  return out;
};

export function macDecoder(type: string, bytes: 6 | 8): BinaryTextDecoder {
  return (b, s, n) => {
    checkLength(type, b, s, n, bytes);
    let out = HEX[b[s]!]!;
    for (let i = 1; i < bytes; i++) out += ':' + HEX[b[s + i]!];
    return out;
  };
}

const BYTE_BITS = Array.from({ length: 256 }, (_, i) => i.toString(2).padStart(8, '0'));

export function bitDecoder(type: string): BinaryTextDecoder {
  return (b, s, n) => {
    checkRange(type, b, s, n);
    if (n < 4) throw invalid(type, `has ${n} bytes; expected at least 4`);
    const bits = int32At(b, s);
    if (bits < 0 || n !== 4 + Math.ceil(bits / 8)) {
      throw invalid(type, `of ${bits} bits has ${n - 4} data bytes`);
    }
    let out = '';
    const whole = bits >>> 3;
    for (let i = 0; i < whole; i++) out += BYTE_BITS[b[s + 4 + i]!];
    if ((bits & 7) !== 0) out += BYTE_BITS[b[s + 4 + whole]!]!.slice(0, bits & 7);
    return out;
  };
}

/** network_out: inet prints /bits unless the host mask is full, cidr always. */
export function inetDecoder(type: string, cidr: boolean): BinaryTextDecoder {
  return (b, s, n) => {
    checkRange(type, b, s, n);
    if (n < 4) throw invalid(type, `has ${n} bytes; expected at least 4`);
    const family = b[s]!;
    const bits = b[s + 1]!;
    const nb = b[s + 3]!;
    const p = s + 4;
    if (family === 2) {
      if (nb !== 4 || n !== 8 || bits > 32) {
        throw invalid(type, `(IPv4) has ${nb} address bytes in ${n} and ${bits} mask bits`);
      }
      const addr = b[p] + '.' + b[p + 1] + '.' + b[p + 2] + '.' + b[p + 3];
      return cidr || bits !== 32 ? addr + '/' + bits : addr;
    }
    if (family === 3) {
      if (nb !== 16 || n !== 20 || bits > 128) {
        throw invalid(type, `(IPv6) has ${nb} address bytes in ${n} and ${bits} mask bits`);
      }
      const addr = ipv6Text(b, p);
      return cidr || bits !== 128 ? addr + '/' + bits : addr;
    }
    throw invalid(type, `has address family ${family}; expected 2 (IPv4) or 3 (IPv6)`);
  };
}

/** inet_net_ntop_ipv6: the first longest run of 2+ zero words becomes ::, and two IPv4 embeddings print dotted. */
function ipv6Text(b: Uint8Array, p: number): string {
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (b[p + 2 * i] === 0 && b[p + 2 * i + 1] === 0) {
      if (curBase === -1) {
        curBase = i;
        curLen = 1;
      } else curLen++;
    } else if (curBase !== -1) {
      if (bestBase === -1 || curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
      curBase = -1;
    }
  }
  if (curBase !== -1 && (bestBase === -1 || curLen > bestLen)) {
    bestBase = curBase;
    bestLen = curLen;
  }
  if (bestBase !== -1 && bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    const word = (b[p + 2 * i]! << 8) | b[p + 2 * i + 1]!;
    if (
      i === 6 &&
      bestBase === 0 &&
      (bestLen === 6 ||
        (bestLen === 7 && word !== 1) ||
        (bestLen === 5 && b[p + 10] === 0xff && b[p + 11] === 0xff))
    ) {
      return out + b[p + 12] + '.' + b[p + 13] + '.' + b[p + 14] + '.' + b[p + 15];
    }
    out += word.toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

// -- numeric ----------------------------------------------------------------

const NUMERIC_POS = 0x0000;
const NUMERIC_NEG = 0x4000;
const NUMERIC_NAN = 0xc000;
const NUMERIC_PINF = 0xd000;
const NUMERIC_NINF = 0xf000;

/** numeric_send: ndigits, weight, sign, dscale (int16 each), then base-10000 digits; printed as get_str_from_var does. */
export const numericDecoder: BinaryTextDecoder = (b, s, n) => {
  checkRange('numeric', b, s, n);
  if (n < 8) throw invalid('numeric', `has ${n} bytes; expected at least 8`);
  const ndigits = uint16At(b, s);
  const weight = int16At(b, s + 2);
  const sign = uint16At(b, s + 4);
  const dscale = uint16At(b, s + 6);
  if (n !== 8 + 2 * ndigits) {
    throw invalid('numeric', `of ${ndigits} digits has ${n} bytes; expected ${8 + 2 * ndigits}`);
  }
  if (sign === NUMERIC_NAN) return 'NaN';
  if (sign === NUMERIC_PINF) return 'Infinity';
  if (sign === NUMERIC_NINF) return '-Infinity';
  if (sign !== NUMERIC_POS && sign !== NUMERIC_NEG) {
    throw invalid('numeric', `has sign 0x${sign.toString(16)}`);
  }
  if (dscale > 0x3fff) throw invalid('numeric', `has display scale ${dscale}`);
  const at = s + 8;
  for (let i = 0; i < ndigits; i++) {
    if (uint16At(b, at + 2 * i) > 9999) {
      throw invalid('numeric', `has base-10000 digit ${uint16At(b, at + 2 * i)}`);
    }
  }
  let out = sign === NUMERIC_NEG ? '-' : '';
  let d: number;
  if (weight < 0) {
    d = weight + 1;
    out += '0';
  } else {
    for (d = 0; d <= weight; d++) {
      const dig = d < ndigits ? uint16At(b, at + 2 * d) : 0;
      out += d === 0 ? '' + dig : pad4(dig);
    }
  }
  if (dscale > 0) {
    let frac = '';
    for (let i = 0; i < dscale; d++, i += 4) {
      frac += pad4(d >= 0 && d < ndigits ? uint16At(b, at + 2 * d) : 0);
    }
    out += '.' + (frac.length === dscale ? frac : frac.slice(0, dscale));
  }
  return out;
};
