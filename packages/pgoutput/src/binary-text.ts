/**
 * PostgreSQL's text output, rebuilt from a value's binary send format.
 *
 * pgoutput's binary mode (`binary 'true'`) sends each column in its type's
 * send format. Keys for WHERE clauses, error messages and targets whose
 * column types differ still need the text form, and it must be exactly the
 * text the source's output function prints in a session with the source's
 * settings: a key that differs by one digit matches no row. Each decoder
 * mirrors one output function (`int4out`, `numeric_out`, `timestamptz_out`,
 * `array_out`, ...) for the settings that shape it; `test/binary-text.db.test.ts`
 * compares them with real servers.
 */
import { int32At, uint32At } from './big-endian.js';
import { PgoutputError } from './errors.js';
import { utf8Text } from './utf8-text.js';

/** Decodes one binary-format value (bytes[start, start+length)) to PostgreSQL's text output. Throws PgoutputError code 'invalid_value' on malformed input. */
export type BinaryTextDecoder = (bytes: Uint8Array, start: number, length: number) => string;

/** A type as pg_type describes it: enough to build its decoder. */
export interface BinaryTypeInfo {
  oid: number;
  /** pg_type.typtype: 'b' base, 'e' enum, 'd' domain, 'c' composite, 'r' range, 'm' multirange, 'p' pseudo */
  typtype: string;
  /** pg_type.typbasetype (domains), else 0 */
  baseType: number;
  /** pg_type.typelem when this is an array type (typcategory 'A' and typlen = -1), else 0 */
  arrayElement: number;
  /** pg_type.typdelim of the ELEMENT type for arrays (',' for all but box ';') */
  delimiter: string;
  /** format_type(oid, NULL), for messages */
  name: string;
}

/** The source session settings that shape text output (values of SHOW / current_setting). */
export interface BinaryTextSettings {
  DateStyle: string;
  IntervalStyle: string;
  extra_float_digits: string;
  bytea_output: string;
  TimeZone: string;
}

/** The SQL that reads BinaryTextSettings in one row (column names exactly the field names). */
export const BINARY_TEXT_SETTINGS_SQL = `SELECT pg_catalog.current_setting('DateStyle') AS "DateStyle",
       pg_catalog.current_setting('IntervalStyle') AS "IntervalStyle",
       pg_catalog.current_setting('extra_float_digits') AS extra_float_digits,
       pg_catalog.current_setting('bytea_output') AS bytea_output,
       pg_catalog.current_setting('TimeZone') AS "TimeZone"`;

/**
 * The SQL that reads BinaryTypeInfo rows for the type OIDs given as `$1::oid[]`,
 * and, recursively, for domain base types and array element types. An array
 * is a type printed by `array_out`: int2vector and oidvector look like
 * arrays in pg_type but print space-separated lists, so they are not.
 */
export const BINARY_TYPE_INFO_SQL = `WITH RECURSIVE wanted(oid) AS (
  SELECT pg_catalog.unnest($1::pg_catalog.oid[])
  UNION
  SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END
    FROM wanted w
    JOIN pg_catalog.pg_type t ON t.oid = w.oid
   WHERE t.typtype = 'd'
      OR (t.typcategory = 'A' AND t.typlen = -1 AND t.typelem <> 0
          AND t.typoutput = 'pg_catalog.array_out'::pg_catalog.regproc)
)
SELECT t.oid,
       t.typtype::text AS typtype,
       CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE 0::pg_catalog.oid END AS "baseType",
       COALESCE(e.oid, 0::pg_catalog.oid) AS "arrayElement",
       COALESCE(e.typdelim, t.typdelim)::text AS delimiter,
       pg_catalog.format_type(t.oid, NULL) AS name
  FROM wanted w
  JOIN pg_catalog.pg_type t ON t.oid = w.oid
  LEFT JOIN pg_catalog.pg_type e
    ON e.oid = t.typelem AND t.typcategory = 'A' AND t.typlen = -1
   AND t.typoutput = 'pg_catalog.array_out'::pg_catalog.regproc`;

// ---------------------------------------------------------------------------
// Settings

function dateStyleProblem(s: BinaryTextSettings): string | undefined {
  // "ISO, MDY" and "ISO, DMY" print alike: the order only shapes input.
  if (/^\s*iso\s*(,|$)/i.test(s.DateStyle)) return undefined;
  return `DateStyle is '${s.DateStyle}'; only ISO output is reproduced (set DateStyle = 'ISO, MDY' for the role or database)`;
}

function intervalStyleProblem(s: BinaryTextSettings): string | undefined {
  if (s.IntervalStyle.trim().toLowerCase() === 'postgres') return undefined;
  return `IntervalStyle is '${s.IntervalStyle}'; only 'postgres' output is reproduced (set IntervalStyle = 'postgres')`;
}

function floatProblem(s: BinaryTextSettings): string | undefined {
  // 1 or more selects the shortest exact output (PostgreSQL 12+); below it is %g with fewer digits.
  if (Number(s.extra_float_digits) >= 1) return undefined;
  return `extra_float_digits is '${s.extra_float_digits}'; only the shortest exact output of 1 or more (the default) is reproduced (set extra_float_digits = 1)`;
}

function byteaProblem(s: BinaryTextSettings): string | undefined {
  if (s.bytea_output.trim().toLowerCase() === 'hex') return undefined;
  return `bytea_output is '${s.bytea_output}'; only 'hex' output is reproduced (set bytea_output = 'hex')`;
}

function timeZoneProblem(s: BinaryTextSettings): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: s.TimeZone });
    return undefined;
  } catch {
    return `TimeZone is '${s.TimeZone}', which JavaScript's Intl does not know (POSIX-style and abbreviation zones are not reproduced); set TimeZone to an IANA zone name such as 'UTC'`;
  }
}

/** Why these settings cannot be reproduced (e.g. DateStyle not ISO, bytea_output escape, an unknown TimeZone for Intl), or undefined when they can. */
export function binaryTextSettingsProblem(s: BinaryTextSettings): string | undefined {
  const problems = [
    dateStyleProblem(s),
    intervalStyleProblem(s),
    floatProblem(s),
    byteaProblem(s),
    timeZoneProblem(s),
  ].filter((p) => p !== undefined);
  return problems.length === 0 ? undefined : problems.join('; ');
}

// ---------------------------------------------------------------------------
// Shared helpers

const fromCharCode = String.fromCharCode;
const hexUtf8 = new TextDecoder();

function invalid(type: string, detail: string, cause?: unknown): PgoutputError {
  return new PgoutputError(
    'invalid_value',
    `binary ${type} value ${detail}`,
    cause === undefined ? undefined : { cause },
  );
}

function checkRange(type: string, b: Uint8Array, start: number, length: number): void {
  if (!(start >= 0 && length >= 0 && start + length <= b.length)) {
    throw invalid(
      type,
      `at ${start} with length ${length} lies outside its ${b.length}-byte buffer`,
    );
  }
}

function checkLength(
  type: string,
  b: Uint8Array,
  start: number,
  length: number,
  want: number,
): void {
  if (length !== want) throw invalid(type, `has ${length} bytes; expected ${want}`);
  checkRange(type, b, start, length);
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : '' + n;
}

function pad4(n: number): string {
  return n < 10 ? '000' + n : n < 100 ? '00' + n : n < 1000 ? '0' + n : '' + n;
}

function int16At(b: Uint8Array, p: number): number {
  return (((b[p]! << 8) | b[p + 1]!) << 16) >> 16;
}

function uint16At(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const HEX_CODES = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  HEX_CODES[2 * i] = HEX[i]!.charCodeAt(0);
  HEX_CODES[2 * i + 1] = HEX[i]!.charCodeAt(1);
}

// ---------------------------------------------------------------------------
// Scalar decoders

function textDecoder(type: string): BinaryTextDecoder {
  return (b, s, n) => {
    checkRange(type, b, s, n);
    try {
      return utf8Text(b, s, s + n);
    } catch (e) {
      throw invalid(type, 'is not valid UTF-8', e);
    }
  };
}

function jsonbDecoder(type: string): BinaryTextDecoder {
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

const boolDecoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('boolean', b, s, n, 1);
  return b[s] !== 0 ? 't' : 'f';
};

const charDecoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('"char"', b, s, n, 1);
  const c = b[s]!;
  // charout (PostgreSQL 15+): NUL prints nothing, high-bit bytes as \ooo.
  if (c === 0) return '';
  if (c < 0x80) return fromCharCode(c);
  return '\\' + (c >> 6) + ((c >> 3) & 7) + (c & 7);
};

const int2Decoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('smallint', b, s, n, 2);
  return '' + int16At(b, s);
};

const int4Decoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('integer', b, s, n, 4);
  return '' + int32At(b, s);
};

const oidDecoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('oid', b, s, n, 4);
  return '' + uint32At(b, s);
};

const int8Decoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('bigint', b, s, n, 8);
  const hi = int32At(b, s);
  const lo = uint32At(b, s + 4);
  // Below 2^53 one float is exact: no bigint for the common case.
  if (hi >= -0x20_0000 && hi < 0x20_0000) return '' + (hi * 0x1_0000_0000 + lo);
  return '' + ((BigInt(hi) << 32n) | BigInt(lo));
};

const byteaDecoder: BinaryTextDecoder = (b, s, n) => {
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

const uuidDecoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('uuid', b, s, n, 16);
  let out = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += '-';
    out += HEX[b[s + i]!];
  }
  return out;
};

function macDecoder(type: string, bytes: 6 | 8): BinaryTextDecoder {
  return (b, s, n) => {
    checkLength(type, b, s, n, bytes);
    let out = HEX[b[s]!]!;
    for (let i = 1; i < bytes; i++) out += ':' + HEX[b[s + i]!];
    return out;
  };
}

const BYTE_BITS = Array.from({ length: 256 }, (_, i) => i.toString(2).padStart(8, '0'));

function bitDecoder(type: string): BinaryTextDecoder {
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
function inetDecoder(type: string, cidr: boolean): BinaryTextDecoder {
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
const numericDecoder: BinaryTextDecoder = (b, s, n) => {
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

// -- float4 / float8 ------------------------------------------------------
//
// With extra_float_digits >= 1 PostgreSQL prints floats with Ryu, built
// without STRICTLY_SHORTEST: the shortest decimal strictly inside the
// interval of values that round to the float, and among those the closest,
// ties to the even digit. JavaScript's shortest output (V8) also accepts a
// decimal exactly on the interval's edge when the mantissa is even, and
// Number#toExponential(n) rounds ties up: both differ from the server's
// output in a few values, handled below.

const f64 = new Float64Array(1);
const f32 = new Float32Array(f64.buffer, 0, 1);
const words = new Uint32Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function float32FromBits(bits: number): number {
  words[0] = bits;
  return f32[0]!;
}

/**
 * float8out with extra_float_digits >= 1: fixed-point for decimal exponents
 * -4 to 14, else d.ddde+XX with at least two exponent digits.
 */
const float8Decoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('double precision', b, s, n, 8);
  const hiWord = uint32At(b, s);
  const loWord = uint32At(b, s + 4);
  words[LITTLE_ENDIAN ? 1 : 0] = hiWord;
  words[LITTLE_ENDIAN ? 0 : 1] = loWord;
  const v = f64[0]!;
  if (Number.isNaN(v)) return 'NaN';
  if (v === 0) return 1 / v < 0 ? '-0' : '0';
  const a = v < 0 ? -v : v;
  if (a === Number.POSITIVE_INFINITY) return v < 0 ? '-Infinity' : 'Infinity';
  const expField = (hiWord >>> 20) & 0x7ff;
  // Below 2^48 no decimal of 17 digits or fewer is an interval edge.
  if ((loWord & 1) === 0 && expField >= 1071) {
    return (v < 0 ? '-' : '') + largeEvenFloat64(a, hiWord & 0xf_ffff, loWord, expField);
  }
  if (a >= 1e-4 && a < 1e15) return '' + v;
  const t = v.toExponential();
  const e = t.indexOf('e');
  return t.length - e === 3 ? t.slice(0, e + 2) + '0' + t[e + 2] : t;
};

/** A positive double of 2^48 or more with an even mantissa: JavaScript's shortest decimal may sit on an edge. */
function largeEvenFloat64(a: number, mantHi: number, mantLo: number, expField: number): string {
  const t = a.toExponential();
  const e = t.indexOf('e');
  const digits = e === 1 ? t[0]! : t[0] + t.slice(2, e);
  const exp = Number(t.slice(e + 1));
  const e2 = expField - 1075;
  const lopsided = mantHi === 0 && mantLo === 0 && expField > 1;
  if (!maybeEdge(digits, exp - digits.length + 1, e2, lopsided)) {
    return formatShortest(digits, exp, 15);
  }
  const mant = (BigInt(mantHi + 0x10_0000) << 32n) | BigInt(mantLo);
  const hiM = 2n * mant + 1n;
  const loM = lopsided ? 4n * mant - 1n : 2n * mant - 1n;
  const loK = lopsided ? e2 - 2 : e2 - 1;
  if (compareDyadic(t, hiM, e2 - 1) !== 0 && compareDyadic(t, loM, loK) !== 0) {
    return formatShortest(digits, exp, 15);
  }
  const inside = (lit: string): boolean =>
    compareDyadic(lit, loM, loK) > 0 && compareDyadic(lit, hiM, e2 - 1) < 0;
  return shortestInside(a, inside, lopsided, digits.length + 1, 17, 15);
}

/**
 * Whether digits x 10^exp10 can equal an edge, (odd) x 2^(e2-1) (or
 * 2^(e2-2) below a power of two): only if its powers of two match. The
 * last 15 digits tell the power of two of the digits up to 2^14.
 */
function maybeEdge(digits: string, exp10: number, e2: number, lopsided: boolean): boolean {
  if (exp10 < 0) return true;
  let r = Number(digits.length > 15 ? digits.slice(-15) : digits);
  let twos = 0;
  while (r % 2 === 0 && twos < 15) {
    r /= 2;
    twos++;
  }
  if (twos >= 15) return true;
  const power = twos + exp10;
  return power === e2 - 1 || (lopsided && power === e2 - 2);
}

/**
 * float4out with extra_float_digits >= 1, fixed-point for decimal
 * exponents -4 to 5. JavaScript has no float32 printer: the search runs
 * over 1 to 9 significant digits.
 */
const float4Decoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('real', b, s, n, 4);
  const bits = uint32At(b, s);
  const neg = bits >= 0x8000_0000;
  const mag = neg ? bits - 0x8000_0000 : bits;
  if (mag >= 0x7f80_0000) {
    if (mag > 0x7f80_0000) return 'NaN';
    return neg ? '-Infinity' : 'Infinity';
  }
  if (mag === 0) return neg ? '-0' : '0';
  const a = float32FromBits(mag);
  const below = float32FromBits(mag - 1);
  // The edges, exact in a double; past the largest float the next "neighbour" is 2^128.
  const lo = (a + below) / 2;
  const hi = mag === 0x7f7f_ffff ? a + (a - below) / 2 : (a + float32FromBits(mag + 1)) / 2;
  const inside = (lit: string): boolean => {
    const x = Number(lit);
    if (x > lo && x < hi) return true;
    if (x !== lo && x !== hi) return false;
    // The double nearest `lit` is an edge: compare the decimal itself.
    const c = compareDecimal(lit, x);
    return x === lo ? c > 0 : c < 0;
  };
  const lopsided = (mag & 0x7f_ffff) === 0 && mag >>> 23 > 1;
  return (neg ? '-' : '') + shortestInside(a, inside, lopsided, 1, 9, 6);
};

/**
 * The shortest decimal of `from` to `to` significant digits that is
 * `inside`, the closest to `a` of its length (ties to the even digit),
 * printed as Ryu's to_chars. Below a power of two (`lopsided`) the lower
 * half of the interval is the narrower one: the closest candidate may fall
 * out below while the next one up is inside.
 */
function shortestInside(
  a: number,
  inside: (lit: string) => boolean,
  lopsided: boolean,
  from: number,
  to: number,
  fixedBelow: number,
): string {
  // Whether some decimal of p digits is inside grows with p: bisect.
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const t = a.toExponential(mid - 1);
    if (inside(t) || (lopsided && inside(literalOf(nextUp(t))))) hi = mid;
    else lo = mid + 1;
  }
  let t = a.toExponential(lo - 1);
  const finer = a.toExponential(lo);
  const e1 = finer.indexOf('e');
  if (finer.charCodeAt(e1 - 1) === 0x35 && Number(finer) === a && compareDecimal(finer, a) === 0) {
    // `a` is halfway between two candidates; toExponential took the upper one.
    const cut = finer.charCodeAt(e1 - 2) === 0x2e ? e1 - 2 : e1 - 1;
    if (finer.charCodeAt(cut - 1) % 2 === 0) t = finer.slice(0, cut) + finer.slice(e1);
  }
  if (!inside(t)) t = literalOf(nextUp(t));
  const e = t.indexOf('e');
  return formatShortest(e === 1 ? t[0]! : t[0] + t.slice(2, e), Number(t.slice(e + 1)), fixedBelow);
}

/** A toExponential literal's digits and exponent plus one unit in the last digit, as [digits, exponent]. */
function nextUp(t: string): [digits: string, exp: number] {
  const e = t.indexOf('e');
  const digits = e === 1 ? t[0]! : t[0] + t.slice(2, e);
  const up = incrementDigits(digits);
  const exp = Number(t.slice(e + 1));
  return [up, up.length > digits.length ? exp + 1 : exp];
}

function literalOf([digits, exp]: [digits: string, exp: number]): string {
  return (digits.length === 1 ? digits : digits[0] + '.' + digits.slice(1)) + 'e' + exp;
}

/** The decimal digit string plus one unit in its last place ("199" -> "200", "99" -> "100"). */
function incrementDigits(d: string): string {
  let i = d.length - 1;
  while (i >= 0 && d.charCodeAt(i) === 0x39) i--;
  if (i < 0) return '1' + '0'.repeat(d.length);
  return d.slice(0, i) + String.fromCharCode(d.charCodeAt(i) + 1) + '0'.repeat(d.length - 1 - i);
}

/** A decimal literal (`d.ddde+x`) as digits x 10^exp10, exactly. */
function decimalOf(lit: string): [digits: bigint, exp10: number] {
  const e = lit.indexOf('e');
  const mant = e < 0 ? lit : lit.slice(0, e);
  const dot = mant.indexOf('.');
  const exp10 = (e < 0 ? 0 : Number(lit.slice(e + 1))) - (dot < 0 ? 0 : mant.length - dot - 1);
  return [BigInt(dot < 0 ? mant : mant.slice(0, dot) + mant.slice(dot + 1)), exp10];
}

/** Sign of (decimal literal `lit`) - m x 2^k, exactly. */
function compareDyadic(lit: string, m: bigint, k: number): number {
  let [left, exp10] = decimalOf(lit);
  let right = m;
  if (exp10 >= 0) left *= 10n ** BigInt(exp10);
  else right *= 10n ** BigInt(-exp10);
  if (k >= 0) right <<= BigInt(k);
  else left <<= BigInt(-k);
  return left < right ? -1 : left > right ? 1 : 0;
}

/** Sign of (decimal literal `lit`) - (finite positive double `x`), exactly. */
function compareDecimal(lit: string, x: number): number {
  let m = x;
  let k = 0;
  while (!Number.isInteger(m)) {
    m *= 2;
    k--;
  }
  return compareDyadic(lit, BigInt(m), k);
}

/** Ryu's to_chars as PostgreSQL patched it: `digits` x 10^(exp - digits + 1), fixed-point for -4 <= exp < fixedBelow. */
function formatShortest(digits: string, exp: number, fixedBelow: number): string {
  let len = digits.length;
  while (len > 1 && digits.charCodeAt(len - 1) === 0x30) len--;
  const d = len === digits.length ? digits : digits.slice(0, len);
  if (exp >= -4 && exp < fixedBelow) {
    if (exp < 0) return '0.' + '0'.repeat(-exp - 1) + d;
    if (len <= exp + 1) return d + '0'.repeat(exp + 1 - len);
    return d.slice(0, exp + 1) + '.' + d.slice(exp + 1);
  }
  const mantissa = len === 1 ? d : d[0] + '.' + d.slice(1);
  const ae = exp < 0 ? -exp : exp;
  return mantissa + (exp < 0 ? 'e-' : 'e+') + (ae < 10 ? '0' + ae : '' + ae);
}

// -- dates and times --------------------------------------------------------

/** Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch. */
const EPOCH_DAYS = 10_957;
const EPOCH_SECONDS = EPOCH_DAYS * 86_400;
/** date_recv's range: 4714-11-24 BC to 5874897-12-31, in days since 2000-01-01. */
const MIN_DATE = -2_451_545;
const END_DATE = 2_145_031_949;
/** timestamp_recv's range in seconds since 2000-01-01: 4714-11-24 BC 00:00 to 294277-01-01 00:00 (excluded). */
const MIN_TIMESTAMP_SECONDS = -211_813_488_000;
const END_TIMESTAMP_SECONDS = 9_223_371_331_200;
const USECS_PER_DAY = 86_400_000_000;

// Results of the helpers below, in module slots: decoding allocates only its string.
let civilYear = 0;
let civilMonth = 0;
let civilDay = 0;
let splitMicros = 0;

/** Proleptic Gregorian date of a day count since 1970-01-01 (Hinnant's civil_from_days), into the civil* slots. */
function civil(days: number): void {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  civilDay = doy - Math.floor((153 * mp + 2) / 5) + 1;
  civilMonth = mp < 10 ? mp + 3 : mp - 9;
  civilYear = yoe + era * 400 + (civilMonth <= 2 ? 1 : 0);
}

/** YYYY-MM-DD of a day count since 2000-01-01; year 0 and before are BC years (civilYear <= 0 tells). */
function isoDate(days: number): string {
  civil(days + EPOCH_DAYS);
  return (
    pad4(civilYear > 0 ? civilYear : 1 - civilYear) + '-' + pad2(civilMonth) + '-' + pad2(civilDay)
  );
}

/** AppendSeconds: the fraction with its trailing zeros dropped, nothing when zero. */
function fraction(us: number): string {
  if (us === 0) return '';
  let width = 6;
  while (us % 10 === 0) {
    us /= 10;
    width--;
  }
  const t = '' + us;
  return '.' + (t.length === width ? t : '0'.repeat(width - t.length) + t);
}

function clock(secondOfDay: number, us: number): string {
  const h = Math.floor(secondOfDay / 3600);
  const rest = secondOfDay - h * 3600;
  const m = Math.floor(rest / 60);
  return pad2(h) + ':' + pad2(m) + ':' + pad2(rest - m * 60) + fraction(us);
}

/** EncodeTimezone: +hh, +hh:mm, or +hh:mm:ss (LMT offsets) east of UTC. */
function zoneText(gmtoff: number): string {
  const a = gmtoff < 0 ? -gmtoff : gmtoff;
  const h = Math.floor(a / 3600);
  const m = Math.floor((a - h * 3600) / 60);
  const sec = a - h * 3600 - m * 60;
  const sign = gmtoff < 0 ? '-' : '+';
  if (sec !== 0) return sign + pad2(h) + ':' + pad2(m) + ':' + pad2(sec);
  if (m !== 0) return sign + pad2(h) + ':' + pad2(m);
  return sign + pad2(h);
}

/**
 * The int64 at `p` as floor(seconds), with the microseconds (0 to 999999)
 * left in `splitMicros`. Timestamps past 2285 exceed 2^53 microseconds, so
 * no single float holds them: 2^32 is split as 4294 * 10^6 + 967296.
 */
function secondsAt(b: Uint8Array, p: number): number {
  const hi = int32At(b, p);
  const rest = hi * 967_296 + uint32At(b, p + 4);
  let sec = Math.floor(rest / 1e6);
  let us = rest - sec * 1e6;
  if (us < 0) {
    sec--;
    us += 1e6;
  } else if (us >= 1e6) {
    sec++;
    us -= 1e6;
  }
  splitMicros = us;
  return hi * 4294 + sec;
}

function isInt64Max(b: Uint8Array, p: number): boolean {
  return int32At(b, p) === 0x7fff_ffff && uint32At(b, p + 4) === 0xffff_ffff;
}

function isInt64Min(b: Uint8Array, p: number): boolean {
  return int32At(b, p) === -0x8000_0000 && uint32At(b, p + 4) === 0;
}

const dateDecoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('date', b, s, n, 4);
  const days = int32At(b, s);
  if (days === 0x7fff_ffff) return 'infinity';
  if (days === -0x8000_0000) return '-infinity';
  if (days < MIN_DATE || days >= END_DATE) throw invalid('date', `${days} is out of range`);
  const text = isoDate(days);
  return civilYear > 0 ? text : text + ' BC';
};

/** timestamp_out, or timestamptz_out when `zone` is given: ISO date, time, zone offset, then BC. */
function timestampDecoder(type: string, zone: ZoneOffsets | undefined): BinaryTextDecoder {
  return (b, s, n) => {
    checkLength(type, b, s, n, 8);
    if (isInt64Max(b, s)) return 'infinity';
    if (isInt64Min(b, s)) return '-infinity';
    let sec = secondsAt(b, s);
    const us = splitMicros;
    if (sec < MIN_TIMESTAMP_SECONDS || sec >= END_TIMESTAMP_SECONDS) {
      throw invalid(type, 'is out of range');
    }
    const gmtoff = zone === undefined ? 0 : zone.offsetAt(sec + EPOCH_SECONDS);
    sec += gmtoff;
    const days = Math.floor(sec / 86_400);
    let text = isoDate(days) + ' ' + clock(sec - days * 86_400, us);
    if (zone !== undefined) text += zoneText(gmtoff);
    return civilYear > 0 ? text : text + ' BC';
  };
}

function timeAt(type: string, b: Uint8Array, s: number): number {
  const hi = int32At(b, s);
  const us = hi * 0x1_0000_0000 + uint32At(b, s + 4);
  if (hi < 0 || us > USECS_PER_DAY) throw invalid(type, `${us} microseconds is out of range`);
  return us;
}

function timeText(us: number): string {
  const sec = Math.floor(us / 1e6);
  return clock(sec, us - sec * 1e6);
}

const timeDecoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('time without time zone', b, s, n, 8);
  return timeText(timeAt('time without time zone', b, s));
};

/** timetz_send: the time, then the zone in seconds WEST of UTC. */
const timetzDecoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('time with time zone', b, s, n, 12);
  const us = timeAt('time with time zone', b, s);
  const west = int32At(b, s + 8);
  if (west <= -57_600 || west >= 57_600) {
    throw invalid('time with time zone', `has zone offset ${west} s`);
  }
  return timeText(us) + zoneText(-west);
};

/** interval_send: time (int64 us), days, months; printed as EncodeInterval with IntervalStyle postgres. */
const intervalDecoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('interval', b, s, n, 16);
  const day = int32At(b, s + 8);
  const month = int32At(b, s + 12);
  // PostgreSQL 17's infinities: every field at its maximum or minimum.
  if (month === 0x7fff_ffff && day === 0x7fff_ffff && isInt64Max(b, s)) return 'infinity';
  if (month === -0x8000_0000 && day === -0x8000_0000 && isInt64Min(b, s)) return '-infinity';
  const floorSec = secondsAt(b, s);
  const negative = floorSec < 0;
  // Fields are truncated toward zero, all with the sign of the time.
  const absSec = !negative ? floorSec : splitMicros > 0 ? -floorSec - 1 : -floorSec;
  const absUs = !negative || splitMicros === 0 ? splitMicros : 1e6 - splitMicros;
  const year = Math.trunc(month / 12);
  const mon = month - year * 12;
  let out = '';
  let before = false;
  let zero = true;
  for (let i = 0; i < 3; i++) {
    const value = i === 0 ? year : i === 1 ? mon : day;
    if (value === 0) continue;
    const unit = i === 0 ? ' year' : i === 1 ? ' mon' : ' day';
    out +=
      (zero ? '' : ' ') +
      (before && value > 0 ? '+' : '') +
      value +
      unit +
      (value !== 1 ? 's' : '');
    before = value < 0;
    zero = false;
  }
  if (zero || absSec !== 0 || absUs !== 0) {
    const h = Math.floor(absSec / 3600);
    const rest = absSec - h * 3600;
    const m = Math.floor(rest / 60);
    out +=
      (zero ? '' : ' ') +
      (negative ? '-' : before ? '+' : '') +
      pad2(h) +
      ':' +
      pad2(m) +
      ':' +
      pad2(rest - m * 60) +
      fraction(absUs);
  }
  return out;
};

/**
 * UTC offsets of one IANA zone, from Intl. Offsets are cached per UTC hour
 * (values cluster in time); an hour holding a transition keeps the second
 * it happens at. Two transitions within one hour are not seen.
 */
class ZoneOffsets {
  private readonly format: Intl.DateTimeFormat;
  private readonly hours = new Map<
    number,
    number | { before: number; after: number; at: number }
  >();

  constructor(timeZone: string) {
    this.format = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
  }

  /** Seconds east of UTC at `unix` seconds. */
  offsetAt(unix: number): number {
    const hour = Math.floor(unix / 3600);
    let e = this.hours.get(hour);
    if (e === undefined) {
      e = this.hourEntry(hour * 3600);
      if (this.hours.size >= 8192) this.hours.clear();
      this.hours.set(hour, e);
    }
    if (typeof e === 'number') return e;
    return unix < e.at ? e.before : e.after;
  }

  private hourEntry(start: number): number | { before: number; after: number; at: number } {
    const before = this.raw(start);
    const after = this.raw(start + 3599);
    if (before === after) return before;
    let lo = start;
    let hi = start + 3599;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.raw(mid) === before) lo = mid;
      else hi = mid;
    }
    return { before, after, at: hi };
  }

  private raw(unix: number): number {
    // Past JavaScript's Date range (year 275760) the zone repeats its last
    // rule every 400 years, as PostgreSQL's own tz code assumes.
    while (unix > 8_000_000_000_000) unix -= 12_622_780_800;
    const parts = this.format.formatToParts(unix * 1000);
    for (const part of parts) {
      if (part.type !== 'timeZoneName') continue;
      const m = /^GMT(?:([+-])(\d{1,2})(?::(\d\d))?(?::(\d\d))?)?$/.exec(part.value);
      if (m === null) break;
      if (m[1] === undefined) return 0;
      const sec = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
      return m[1] === '-' ? -sec : sec;
    }
    throw new PgoutputError(
      'invalid_argument',
      `Intl printed no UTC offset for ${new Date(unix * 1000).toISOString()} in ${this.format.resolvedOptions().timeZone}`,
    );
  }
}

// -- arrays -----------------------------------------------------------------

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
function arrayDecoder(
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

// ---------------------------------------------------------------------------
// The decoders of one source

/** What a base type needs: its decoder, or why it has none. */
type BaseFactory = (
  settings: BinaryTextSettings,
  zone: () => ZoneOffsets,
) => BinaryTextDecoder | Why;

/** The reason a type has no decoder. */
class Why {
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
}

function needs(
  problem: (s: BinaryTextSettings) => string | undefined,
  make: (s: BinaryTextSettings, zone: () => ZoneOffsets) => BinaryTextDecoder,
): BaseFactory {
  return (s, zone) => {
    const p = problem(s);
    return p === undefined ? make(s, zone) : new Why(`its text output depends on settings: ${p}`);
  };
}

const always =
  (d: BinaryTextDecoder): BaseFactory =>
  () =>
    d;

const UNSUPPORTED_BASE: Record<number, string> = {
  22: 'int2vector prints a space-separated list; no decoder is implemented',
  30: 'oidvector prints a space-separated list; no decoder is implemented',
  142: 'xml is not supported (xml_send re-encodes the document for the client)',
  790: 'money is not supported (its text output depends on lc_monetary)',
  3614: 'tsvector is not supported',
  3615: 'tsquery is not supported',
};

const BASE_TYPES: Record<number, BaseFactory> = {
  16: always(boolDecoder),
  17: needs(byteaProblem, () => byteaDecoder),
  18: always(charDecoder),
  19: always(textDecoder('name')),
  20: always(int8Decoder),
  21: always(int2Decoder),
  23: always(int4Decoder),
  25: always(textDecoder('text')),
  26: always(oidDecoder),
  114: always(textDecoder('json')),
  650: always(inetDecoder('cidr', true)),
  700: needs(floatProblem, () => float4Decoder),
  701: needs(floatProblem, () => float8Decoder),
  774: always(macDecoder('macaddr8', 8)),
  829: always(macDecoder('macaddr', 6)),
  869: always(inetDecoder('inet', false)),
  1042: always(textDecoder('character')),
  1043: always(textDecoder('character varying')),
  1082: needs(dateStyleProblem, () => dateDecoder),
  1083: always(timeDecoder),
  1114: needs(dateStyleProblem, () => timestampDecoder('timestamp without time zone', undefined)),
  1184: needs(
    (s) => dateStyleProblem(s) ?? timeZoneProblem(s),
    (_s, zone) => timestampDecoder('timestamp with time zone', zone()),
  ),
  1186: needs(intervalStyleProblem, () => intervalDecoder),
  1266: always(timetzDecoder),
  1560: always(bitDecoder('bit')),
  1562: always(bitDecoder('bit varying')),
  1700: always(numericDecoder),
  2950: always(uuidDecoder),
  3802: always(jsonbDecoder('jsonb')),
};

const KIND_NAMES: Record<string, string> = {
  c: 'composite types are not supported',
  r: 'range types are not supported',
  m: 'multirange types are not supported',
  p: 'pseudo-types have no stored values to decode',
};

/** Builds decoders for the types of one source. */
export class BinaryTextDecoders {
  private readonly settings: BinaryTextSettings;
  private readonly types = new Map<number, BinaryTypeInfo>();
  private readonly built = new Map<number, BinaryTextDecoder | Why>();
  private zone: ZoneOffsets | undefined;

  constructor(settings: BinaryTextSettings, types: Iterable<BinaryTypeInfo>) {
    this.settings = { ...settings };
    for (const t of types) {
      // Drivers may return OIDs as strings; the maps are keyed by number.
      const info: BinaryTypeInfo = {
        ...t,
        oid: Number(t.oid),
        baseType: Number(t.baseType),
        arrayElement: Number(t.arrayElement),
      };
      this.types.set(info.oid, info);
    }
  }

  /** The decoder of type `oid`, or undefined when unsupported (see `problem`). Same function object for the same oid (cache). */
  decoder(oid: number): BinaryTextDecoder | undefined {
    const d = this.resolve(oid, 0);
    return d instanceof Why ? undefined : d;
  }

  /** Why type `oid` has no decoder ("type interval[] ... has no binary-to-text decoder"), or undefined when it has one. */
  problem(oid: number): string | undefined {
    const d = this.resolve(oid, 0);
    if (!(d instanceof Why)) return undefined;
    const name = this.types.get(oid)?.name;
    const type = name === undefined ? `OID ${oid}` : `${name} (OID ${oid})`;
    return `type ${type} has no binary-to-text decoder: ${d.reason}`;
  }

  private resolve(oid: number, depth: number): BinaryTextDecoder | Why {
    const known = this.built.get(oid);
    if (known !== undefined) return known;
    const made = this.make(oid, depth);
    this.built.set(oid, made);
    return made;
  }

  private make(oid: number, depth: number): BinaryTextDecoder | Why {
    const t = this.types.get(oid);
    if (t === undefined) {
      return new Why(
        'it is not among the type descriptions given (read them with BINARY_TYPE_INFO_SQL)',
      );
    }
    if (depth > 16) return new Why('its domain or array nesting is too deep (a cycle?)');
    if (t.typtype === 'd') {
      const base = this.resolve(t.baseType, depth + 1);
      if (!(base instanceof Why)) return base;
      return new Why(`its base type ${this.nameOf(t.baseType)} has none (${base.reason})`);
    }
    if (t.typtype === 'e') return textDecoder(t.name);
    if (t.typtype !== 'b') {
      return new Why(KIND_NAMES[t.typtype] ?? `type kind '${t.typtype}' is not supported`);
    }
    if (t.arrayElement !== 0 && UNSUPPORTED_BASE[oid] === undefined) {
      const element = this.resolve(t.arrayElement, depth + 1);
      if (element instanceof Why) {
        return new Why(
          `its element type ${this.nameOf(t.arrayElement)} has none (${element.reason})`,
        );
      }
      return arrayDecoder(t.name, t.arrayElement, element, t.delimiter || ',');
    }
    const unsupported = UNSUPPORTED_BASE[oid];
    if (unsupported !== undefined) return new Why(unsupported);
    const factory = BASE_TYPES[oid];
    if (factory === undefined) return new Why('no decoder is implemented for this type');
    return factory(this.settings, () => {
      this.zone ??= new ZoneOffsets(this.settings.TimeZone);
      return this.zone;
    });
  }

  private nameOf(oid: number): string {
    return this.types.get(oid)?.name ?? `OID ${oid}`;
  }
}
