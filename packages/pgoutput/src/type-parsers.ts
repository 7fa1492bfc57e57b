import { PgoutputError } from './errors.js';
import {
  parseArray,
  parseBigint,
  parseBool,
  parseBytea,
  parseDateTime,
  parseInteger,
  parseJson,
  parseNumber,
} from './pg-text-values.js';

/** Turns one text-format value of a type into a JavaScript value. */
export type TypeParser = (text: string) => unknown;

/** Parsers by type OID; a type without one keeps its raw text. */
export type TypeParsers = Partial<Record<number, TypeParser>>;

/** OIDs of the built-in types the default parsers cover (fixed in every PostgreSQL version). */
export const PG_TYPE_OIDS = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
  _json: 199,
  _bool: 1000,
  _bytea: 1001,
  _int2: 1005,
  _int4: 1007,
  _text: 1009,
  _bpchar: 1014,
  _varchar: 1015,
  _int8: 1016,
  _float4: 1021,
  _float8: 1022,
  _oid: 1028,
  _timestamp: 1115,
  _date: 1182,
  _timestamptz: 1185,
  _numeric: 1231,
  _uuid: 2951,
  _jsonb: 3807,
} as const;

export interface TypeParserOptions {
  /** int8: `'bigint'` (default, exact) or `'string'`. */
  int8?: 'bigint' | 'string';
  /** numeric: `'string'` (default, exact) or `'number'` (a float64, may round). */
  numeric?: 'string' | 'number';
  /**
   * date / timestamp / timestamptz: `'date'` (default: a `Date`, milliseconds,
   * `Infinity` / `-Infinity` for the infinities, `timestamp` read as UTC) or
   * `'string'` (exact).
   */
  dates?: 'date' | 'string';
  /** json / jsonb: `'parse'` (default, `JSON.parse`) or `'string'`. */
  json?: 'parse' | 'string';
  /** Extra or replacement parsers by type OID, applied last. */
  overrides?: TypeParsers;
}

const identity = (text: string): string => text;

/**
 * A parser map for the common built-in types and their arrays: int2/int4/oid
 * to number, int8 to bigint, bool, float4/float8 to number, json/jsonb via
 * `JSON.parse`, bytea to `Uint8Array`, date/timestamp/timestamptz to `Date`;
 * numeric stays a string unless asked; text-like arrays become string arrays.
 * Other types (and NULL elements) pass through unchanged.
 */
export function createTypeParsers(options: TypeParserOptions = {}): TypeParsers {
  const int8 = pick(options.int8, ['bigint', 'string'], 'int8');
  const numeric = pick(options.numeric, ['string', 'number'], 'numeric');
  const dates = pick(options.dates, ['date', 'string'], 'dates');
  const json = pick(options.json, ['parse', 'string'], 'json');
  const t = PG_TYPE_OIDS;
  const scalars: [number, number, TypeParser][] = [
    [t.bool, t._bool, parseBool],
    [t.bytea, t._bytea, parseBytea],
    [t.int2, t._int2, parseInteger],
    [t.int4, t._int4, parseInteger],
    [t.oid, t._oid, parseInteger],
    [t.int8, t._int8, int8 === 'bigint' ? parseBigint : identity],
    [t.float4, t._float4, parseNumber],
    [t.float8, t._float8, parseNumber],
    [t.numeric, t._numeric, numeric === 'number' ? parseNumber : identity],
    [t.json, t._json, json === 'parse' ? parseJson : identity],
    [t.jsonb, t._jsonb, json === 'parse' ? parseJson : identity],
    [t.date, t._date, dates === 'date' ? parseDateTime : identity],
    [t.timestamp, t._timestamp, dates === 'date' ? parseDateTime : identity],
    [t.timestamptz, t._timestamptz, dates === 'date' ? parseDateTime : identity],
    [t.text, t._text, identity],
    [t.varchar, t._varchar, identity],
    [t.bpchar, t._bpchar, identity],
    [t.uuid, t._uuid, identity],
  ];
  const parsers: TypeParsers = {};
  for (const [oid, arrayOid, parse] of scalars) {
    // Text-like scalars need no parser: only their arrays do.
    if (parse !== identity) parsers[oid] = parse;
    parsers[arrayOid] = (text: string) => parseArray(text, parse);
  }
  return { ...parsers, ...options.overrides };
}

function pick<T extends string>(value: T | undefined, allowed: readonly T[], name: string): T {
  if (value === undefined) return allowed[0]!;
  if (!allowed.includes(value)) {
    throw new PgoutputError(
      'invalid_argument',
      `createTypeParsers: ${name} is ${JSON.stringify(value)}; use ${allowed.map((a) => `'${a}'`).join(' or ')}`,
    );
  }
  return value;
}

/** `createTypeParsers()` with every default, frozen. */
export const defaultTypeParsers: Readonly<TypeParsers> = Object.freeze(createTypeParsers());
