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
import { arrayDecoder } from './binary-text-array.js';
import { float4Decoder, float8Decoder } from './binary-text-float.js';
import {
  bitDecoder,
  boolDecoder,
  byteaDecoder,
  charDecoder,
  inetDecoder,
  int2Decoder,
  int4Decoder,
  int8Decoder,
  jsonbDecoder,
  macDecoder,
  numericDecoder,
  oidDecoder,
  textDecoder,
  uuidDecoder,
} from './binary-text-scalars.js';
import {
  dateDecoder,
  intervalDecoder,
  timeDecoder,
  timestampDecoder,
  timetzDecoder,
  ZoneOffsets,
} from './binary-text-time.js';

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

/** Runs one SQL statement with parameters (with node-postgres: `(text, values) => client.query(text, values)`). */
export type BinaryTextQuery = (text: string, values?: unknown[]) => Promise<{ rows: unknown[] }>;

/**
 * A source session's decoders for `typeOids` (and the types they are built
 * on): its settings and the types' descriptions read with
 * `BINARY_TEXT_SETTINGS_SQL` and `BINARY_TYPE_INFO_SQL` through `query`.
 */
export async function loadBinaryTextDecoders(
  query: BinaryTextQuery,
  typeOids: Iterable<number>,
): Promise<BinaryTextDecoders> {
  const settings = (await query(BINARY_TEXT_SETTINGS_SQL)).rows[0] as BinaryTextSettings;
  const types = (await query(BINARY_TYPE_INFO_SQL, [[...new Set(typeOids)]])).rows;
  return new BinaryTextDecoders(settings, types as BinaryTypeInfo[]);
}
