/**
 * With extra_float_digits >= 1 PostgreSQL prints floats with Ryu, built
 * without STRICTLY_SHORTEST: the shortest decimal strictly inside the
 * interval of values that round to the float, and among those the closest,
 * ties to the even digit. JavaScript's shortest output (V8) also accepts a
 * decimal exactly on the interval's edge when the mantissa is even, and
 * Number#toExponential(n) rounds ties up: both differ from the server's
 * output in a few values, handled below.
 */
import { uint32At } from './big-endian.js';
import type { BinaryTextDecoder } from './binary-text.js';
import { checkLength } from './binary-text-common.js';

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
export const float8Decoder: BinaryTextDecoder = (b, s, n) => {
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
export const float4Decoder: BinaryTextDecoder = (b, s, n) => {
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
