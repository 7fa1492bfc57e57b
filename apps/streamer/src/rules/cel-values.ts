/**
 * PostgreSQL text-format values as CEL values, and CEL results back as text.
 * Text is what pgoutput sends (text mode) and what COPY carries, so the
 * stream and the initial copy see the same values.
 */

/** CEL type names as @marcbachmann/cel-js declares them. */
export type CelTypeName =
  | 'int'
  | 'double'
  | 'bool'
  | 'string'
  | 'bytes'
  | 'google.protobuf.Timestamp'
  | 'map'
  | 'list'
  | 'dyn';

const INT = new Set([20, 21, 23, 26]); // int8, int2, int4, oid
const DOUBLE = new Set([700, 701, 1700]); // float4, float8, numeric
const TIME = new Set([1082, 1114, 1184]); // date, timestamp, timestamptz
const JSON_TYPES = new Set([114, 3802]); // json, jsonb

/** The CEL type a source column's values have. */
export function celTypeOf(typeOid: number): CelTypeName {
  if (INT.has(typeOid)) return 'int';
  if (DOUBLE.has(typeOid)) return 'double';
  if (typeOid === 16) return 'bool';
  if (typeOid === 17) return 'bytes';
  if (TIME.has(typeOid)) return 'google.protobuf.Timestamp';
  if (JSON_TYPES.has(typeOid)) return 'map';
  return 'string';
}

const TIMESTAMP =
  /^(\d{4,})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d):(\d\d)(\.\d+)?)?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/;

/** A date / timestamp / timestamptz in PostgreSQL's ISO output (a timestamp without zone is read as UTC). */
export function parseTimestamp(text: string): Date {
  if (text === 'infinity') return new Date(8.64e15);
  if (text === '-infinity') return new Date(-8.64e15);
  const m = TIMESTAMP.exec(text);
  if (!m) throw new Error(`not a timestamp: ${JSON.stringify(text.slice(0, 40))}`);
  let year = Number(m[1]);
  if (m[12]) year = 1 - year;
  const ms = m[7] ? Math.floor(Number(m[7]) * 1000) : 0;
  let t = Date.UTC(
    year,
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4] ?? 0),
    Number(m[5] ?? 0),
    Number(m[6] ?? 0),
    ms,
  );
  if (year >= 0 && year < 100) {
    // Date.UTC maps years 0-99 to 1900-1999.
    const d = new Date(t);
    d.setUTCFullYear(year);
    t = d.getTime();
  }
  if (m[8]) {
    const offset = (Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0)) * 1000;
    t -= m[8] === '-' ? -offset : offset;
  }
  return new Date(t);
}

function parseBytea(text: string): Uint8Array {
  if (text.startsWith('\\x')) return Buffer.from(text.slice(2), 'hex');
  // Escape format (bytea_output = escape): octal escapes and doubled backslashes.
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c && text[i + 1] === '\\') {
      out.push(0x5c);
      i++;
    } else if (c === 0x5c) {
      out.push(Number.parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    } else out.push(c);
  }
  return Uint8Array.from(out);
}

/** A text value of a column of type `type` as a CEL value; null stays null. */
export function toCel(text: string | null, type: CelTypeName): unknown {
  if (text === null) return null;
  switch (type) {
    case 'int':
      return BigInt(text);
    case 'double':
      return Number(text);
    case 'bool':
      return text === 't';
    case 'bytes':
      return parseBytea(text);
    case 'google.protobuf.Timestamp':
      return parseTimestamp(text);
    case 'map':
      return JSON.parse(text);
    default:
      return text;
  }
}

/** The PostgreSQL type OID of a CEL result type (what a computed column's values are). */
export function oidOfCelType(type: string): number {
  switch (type) {
    case 'int':
      return 20;
    case 'uint':
      return 1700;
    case 'double':
      return 701;
    case 'bool':
      return 16;
    case 'bytes':
      return 17;
    case 'google.protobuf.Timestamp':
      return 1184;
    default:
      return type.startsWith('map') || type.startsWith('list') ? 3802 : 25;
  }
}

function jsonOf(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return Number(x);
    if (x instanceof Map) return Object.fromEntries(x);
    if (x instanceof Uint8Array) return Buffer.from(x).toString('base64');
    return x;
  });
}

/** A CEL result as a PostgreSQL text value, as the target column's input function reads it. */
export function fromCel(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'string':
      return v;
    case 'bigint':
      return v.toString();
    case 'boolean':
      return v ? 't' : 'f';
    case 'number':
      return Number.isNaN(v)
        ? 'NaN'
        : v === Infinity
          ? 'Infinity'
          : v === -Infinity
            ? '-Infinity'
            : String(v);
  }
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return `\\x${Buffer.from(v).toString('hex')}`;
  if (Array.isArray(v) || v instanceof Map || Object.getPrototypeOf(v) === Object.prototype)
    return jsonOf(v);
  return String(v);
}

/** The column type `plan` gives a computed column of this OID (see `oidOfCelType`). */
export function pgTypeOfOid(oid: number): string {
  switch (oid) {
    case 20:
      return 'bigint';
    case 1700:
      return 'numeric';
    case 701:
      return 'double precision';
    case 16:
      return 'boolean';
    case 17:
      return 'bytea';
    case 1184:
      return 'timestamp with time zone';
    case 3802:
      return 'jsonb';
    default:
      return 'text';
  }
}
