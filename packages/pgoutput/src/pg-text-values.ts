/**
 * Parsers for PostgreSQL's text output of scalar types (DateStyle ISO), used
 * by the opt-in type parser map. Each throws a plain `TypeError` on text it
 * does not recognise; `RelationCache.toRecord` wraps it with the column.
 */

export function parseInteger(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || text.length === 0) {
    throw new TypeError('not an integer in the safe range');
  }
  return n;
}

export function parseBigint(text: string): bigint {
  if (!/^-?\d+$/.test(text)) throw new TypeError('not an int8');
  return BigInt(text);
}

export function parseBool(text: string): boolean {
  if (text === 't') return true;
  if (text === 'f') return false;
  throw new TypeError("not a bool ('t' or 'f')");
}

/** float4 / float8 / numeric: `NaN`, `Infinity` and `-Infinity` included. */
export function parseNumber(text: string): number {
  const n = Number(text);
  if (Number.isNaN(n) && text !== 'NaN') throw new TypeError('not a number');
  if (text.length === 0) throw new TypeError('not a number');
  return n;
}

export function parseJson(text: string): unknown {
  return JSON.parse(text);
}

const HEX = /^[0-9a-fA-F]*$/;

/** bytea in either output format: hex (`\x0aff`, the default) or escape. */
export function parseBytea(text: string): Uint8Array {
  if (text.startsWith('\\x')) {
    const hex = text.slice(2);
    if (hex.length % 2 !== 0 || !HEX.test(hex)) throw new TypeError('not a hex bytea');
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    return out;
  }
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new TypeError('not an escape-format bytea');
    if (c !== 0x5c) {
      bytes.push(c);
    } else if (text[i + 1] === '\\') {
      bytes.push(0x5c);
      i++;
    } else if (/^[0-3][0-7][0-7]$/.test(text.slice(i + 1, i + 4))) {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      throw new TypeError('bad escape in escape-format bytea');
    }
  }
  return Uint8Array.from(bytes);
}

const DATE_TIME =
  /^(\d{4,})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?(?:([+-])(\d{2})(?::(\d{2}))?(?::(\d{2}))?)?( BC)?$/;

/**
 * `date`, `timestamp` and `timestamptz` text (DateStyle ISO) to a `Date`.
 * `timestamp` without time zone is read as UTC; microseconds are truncated to
 * milliseconds. `infinity` / `-infinity` become `Infinity` / `-Infinity`
 * (numbers, like node-postgres), so they stay distinct from any real date.
 */
export function parseDateTime(text: string): Date | number {
  const fast = parseCommonDateTime(text);
  if (fast !== undefined) return fast;
  if (text === 'infinity') return Number.POSITIVE_INFINITY;
  if (text === '-infinity') return Number.NEGATIVE_INFINITY;
  const m = DATE_TIME.exec(text);
  if (m === null) {
    throw new TypeError(
      'not an ISO date/timestamp; set DateStyle to ISO on the replication connection',
    );
  }
  let year = Number(m[1]);
  if (m[12] !== undefined) year = 1 - year; // 1 BC is year 0
  const ms = m[7] === undefined ? 0 : Number(m[7].padEnd(6, '0').slice(0, 3));
  let offsetSec = 0;
  if (m[8] !== undefined) {
    offsetSec = Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0);
    if (m[8] === '-') offsetSec = -offsetSec;
  }
  const d = new Date(0);
  d.setUTCFullYear(year, Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0) - offsetSec, ms);
  if (Number.isNaN(d.getTime())) throw new TypeError('date outside the range of a JavaScript Date');
  return d;
}

const digit = (text: string, i: number): number => {
  const d = text.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : Number.NaN;
};
const two = (text: string, i: number): number => digit(text, i) * 10 + digit(text, i + 1);

/**
 * The shape nearly every value has: `YYYY-MM-DD`, optionally followed by
 * ` HH:MM:SS`, `.f` to `.ffffff`, and `+HH` / `-HH` or `+HH:MM`, for years
 * 1000-9999. Read with char codes; anything else (BC, long years, offsets
 * with seconds, infinities) is left to the regular expression.
 */
function parseCommonDateTime(text: string): Date | undefined {
  const n = text.length;
  if (n < 10 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return undefined;
  const year = two(text, 0) * 100 + two(text, 2);
  const month = two(text, 5);
  const day = two(text, 8);
  if (!(year >= 1000) || !(month >= 1 && month <= 12) || !(day >= 1 && day <= 31)) return undefined;
  let ms = 0;
  let h = 0;
  let mi = 0;
  let sec = 0;
  let offsetMin = 0;
  let i = 10;
  if (n > 10) {
    if (
      n < 19 ||
      text.charCodeAt(10) !== 32 ||
      text.charCodeAt(13) !== 58 ||
      text.charCodeAt(16) !== 58
    ) {
      return undefined;
    }
    h = two(text, 11);
    mi = two(text, 14);
    sec = two(text, 17);
    if (!(h <= 24 && mi <= 59 && sec <= 60)) return undefined;
    i = 19;
    if (i < n && text.charCodeAt(i) === 46) {
      let scale = 100;
      i++;
      const start = i;
      while (i < n && i - start < 6) {
        const d = digit(text, i);
        if (Number.isNaN(d)) break;
        ms += d * scale;
        scale /= 10;
        i++;
      }
      if (i === start) return undefined;
      ms = Math.floor(ms);
    }
    if (i < n) {
      const sign = text.charCodeAt(i);
      if (sign !== 43 && sign !== 45) return undefined;
      const oh = two(text, i + 1);
      let om = 0;
      i += 3;
      if (i < n) {
        if (text.charCodeAt(i) !== 58) return undefined;
        om = two(text, i + 1);
        i += 3;
      }
      if (!(oh >= 0 && om >= 0) || i !== n) return undefined;
      offsetMin = (oh * 60 + om) * (sign === 45 ? -1 : 1);
    }
  }
  const t = Date.UTC(year, month - 1, day, h, mi - offsetMin, sec, ms);
  return Number.isNaN(t) ? undefined : new Date(t);
}

/**
 * A PostgreSQL array literal (`{1,2,NULL}`, `{"a b","c\"d"}`, nested
 * `{{1,2},{3,4}}`, with or without `[lo:hi]=` bounds) to nested arrays; each
 * non-NULL element goes through `element`. The delimiter is `,` (every type
 * handled here; `box` uses `;`).
 */
export function parseArray(text: string, element: (text: string) => unknown): unknown[] {
  let i = 0;
  if (text[0] === '[') {
    const eq = text.indexOf('=');
    if (eq < 0) throw new TypeError('bad array bounds');
    i = eq + 1;
  }
  const fail = (): never => {
    throw new TypeError('not an array literal');
  };
  const parseLevel = (): unknown[] => {
    if (text[i] !== '{') fail();
    i++;
    const out: unknown[] = [];
    if (text[i] === '}') {
      i++;
      return out;
    }
    for (;;) {
      const c = text[i];
      if (c === '{') {
        out.push(parseLevel());
      } else if (c === '"') {
        i++;
        let s = '';
        for (;;) {
          const ch = text[i];
          if (ch === undefined) fail();
          if (ch === '"') break;
          if (ch === '\\') {
            i++;
            if (i >= text.length) fail();
          }
          s += text[i];
          i++;
        }
        i++;
        out.push(element(s));
      } else {
        const start = i;
        while (i < text.length && text[i] !== ',' && text[i] !== '}') i++;
        const raw = text.slice(start, i);
        if (raw.length === 0) fail();
        out.push(raw.toUpperCase() === 'NULL' ? null : element(raw));
      }
      const sep = text[i];
      i++;
      if (sep === '}') return out;
      if (sep !== ',') fail();
    }
  };
  const result = parseLevel();
  if (i !== text.length) fail();
  return result;
}
