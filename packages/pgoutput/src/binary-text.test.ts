import { describe, expect, test } from 'vitest';
import {
  BinaryTextDecoders,
  type BinaryTextSettings,
  type BinaryTypeInfo,
  binaryTextSettingsProblem,
  PgoutputError,
} from './index.js';

const DEFAULTS: BinaryTextSettings = {
  DateStyle: 'ISO, MDY',
  IntervalStyle: 'postgres',
  extra_float_digits: '1',
  bytea_output: 'hex',
  TimeZone: 'UTC',
};

const info = (oid: number, name: string, more: Partial<BinaryTypeInfo> = {}): BinaryTypeInfo => ({
  oid,
  typtype: 'b',
  baseType: 0,
  arrayElement: 0,
  delimiter: ',',
  name,
  ...more,
});

const TYPES: BinaryTypeInfo[] = [
  info(16, 'boolean'),
  info(17, 'bytea'),
  info(18, '"char"'),
  info(20, 'bigint'),
  info(21, 'smallint'),
  info(23, 'integer'),
  info(25, 'text'),
  info(700, 'real'),
  info(701, 'double precision'),
  info(790, 'money'),
  info(791, 'money[]', { arrayElement: 790 }),
  info(1007, 'integer[]', { arrayElement: 23 }),
  info(1009, 'text[]', { arrayElement: 25 }),
  info(1082, 'date'),
  info(1083, 'time without time zone'),
  info(1184, 'timestamp with time zone'),
  info(1186, 'interval'),
  info(1187, 'interval[]', { arrayElement: 1186 }),
  info(1266, 'time with time zone'),
  info(1700, 'numeric'),
  info(2950, 'uuid'),
  info(3802, 'jsonb'),
  info(869, 'inet'),
  info(829, 'macaddr'),
  info(774, 'macaddr8'),
  info(1560, 'bit'),
  info(3904, 'int4range', { typtype: 'r' }),
  info(16_400, 'pair', { typtype: 'c' }),
  info(16_401, 'mood', { typtype: 'e' }),
  info(16_402, 'posint', { typtype: 'd', baseType: 23 }),
  info(16_403, 'posint[]', { arrayElement: 16_402 }),
  info(16_404, 'amount', { typtype: 'd', baseType: 790 }),
  info(22, 'int2vector', { arrayElement: 21 }),
];

/** Test-only big-endian builder. */
function be(
  ...parts: [kind: 'i8' | 'i16' | 'i32' | 'i64' | 'f32' | 'f64', value: number | bigint][]
): Uint8Array {
  const size = { i8: 1, i16: 2, i32: 4, i64: 8, f32: 4, f64: 8 };
  const out = new Uint8Array(parts.reduce((n, [k]) => n + size[k], 0));
  const v = new DataView(out.buffer);
  let p = 0;
  for (const [k, x] of parts) {
    if (k === 'i8') v.setUint8(p, Number(x));
    if (k === 'i16') v.setInt16(p, Number(x));
    if (k === 'i32') v.setInt32(p, Number(x));
    if (k === 'i64') v.setBigInt64(p, BigInt(x));
    if (k === 'f32') v.setFloat32(p, Number(x));
    if (k === 'f64') v.setFloat64(p, Number(x));
    p += size[k];
  }
  return out;
}

const decoders = () => new BinaryTextDecoders(DEFAULTS, TYPES);

function decode(oid: number, bytes: Uint8Array, settings = DEFAULTS): string {
  return new BinaryTextDecoders(settings, TYPES).decoder(oid)!(bytes, 0, bytes.length);
}

function invalidValue(f: () => unknown): PgoutputError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PgoutputError);
    expect((e as PgoutputError).code).toBe('invalid_value');
    return e as PgoutputError;
  }
  throw new Error('expected a PgoutputError');
}

/** A 1-D array_send payload of int4 elements (null for NULL). */
function int4Array(values: (number | null)[], lower = 1, elementOid = 23): Uint8Array {
  return be(
    ['i32', 1],
    ['i32', values.includes(null) ? 1 : 0],
    ['i32', elementOid],
    ['i32', values.length],
    ['i32', lower],
    ...values.flatMap((v): [kind: 'i32', value: number][] =>
      v === null
        ? [['i32', -1]]
        : [
            ['i32', 4],
            ['i32', v],
          ],
    ),
  );
}

describe('BinaryTextDecoders', () => {
  test('decodes a value inside a larger buffer', () => {
    const d = decoders().decoder(23)!;
    const buf = new Uint8Array([9, 9, 0xff, 0xff, 0xff, 0xfe, 9]);
    expect(d(buf, 2, 4)).toBe('-2');
  });

  test('a few values, as the server prints them', () => {
    expect(decode(20, be(['i64', -(2n ** 63n)]))).toBe('-9223372036854775808');
    expect(decode(20, be(['i64', 2n ** 53n + 1n]))).toBe('9007199254740993');
    expect(decode(701, be(['f64', 1e-5]))).toBe('1e-05');
    expect(decode(701, be(['f64', 1e15]))).toBe('1e+15');
    expect(decode(701, be(['f64', -0]))).toBe('-0');
    expect(decode(701, be(['f64', 123456789012345]))).toBe('123456789012345');
    expect(decode(700, be(['f32', 0.1]))).toBe('0.1');
    expect(decode(700, be(['f32', 1e6]))).toBe('1e+06');
    expect(decode(700, be(['f32', 3.4028234663852886e38]))).toBe('3.4028235e+38');
    // Ryu without STRICTLY_SHORTEST: never a decimal on the rounding interval's edge, ties to even.
    expect(decode(700, be(['f32', 84035216]))).toBe('8.4035216e+07');
    expect(decode(700, be(['f32', 2 ** -12]))).toBe('0.00024414062');
    expect(decode(701, be(['f64', 29695510058048128]))).toBe('2.9695510058048128e+16');
    expect(decode(701, be(['f64', 2 ** 60]))).toBe('1.152921504606847e+18');
    expect(decode(18, new Uint8Array([0xe9]))).toBe('\\351');
    expect(decode(18, new Uint8Array([0]))).toBe('');
    expect(decode(1186, be(['i64', -1n], ['i32', -3], ['i32', 14]))).toBe(
      '1 year 2 mons -3 days -00:00:00.000001',
    );
    expect(decode(1082, be(['i32', -730_120]))).toBe('0001-12-31 BC');
    expect(decode(1184, be(['i64', 0n]), { ...DEFAULTS, TimeZone: 'Asia/Kolkata' })).toBe(
      '2000-01-01 05:30:00+05:30',
    );
    expect(
      decode(
        1700,
        be(['i16', 2], ['i16', 0], ['i16', 0x4000], ['i16', 6], ['i16', 12], ['i16', 3400]),
      ),
    ).toBe('-12.340000');
    expect(
      decode(
        1009,
        be(
          ['i32', 1],
          ['i32', 1],
          ['i32', 25],
          ['i32', 3],
          ['i32', 0],
          ['i32', 0],
          ['i32', 4],
          ['i32', 0x4e554c4c],
          ['i32', -1],
        ),
      ),
    ).toBe('[0:2]={"","NULL",NULL}');
    expect(decode(16_403, int4Array([1, null], 1, 16_402))).toBe('{1,NULL}');
  });

  test('the same function object for the same OID; a domain shares its base type decoder', () => {
    const d = decoders();
    expect(d.decoder(23)).toBe(d.decoder(23));
    expect(d.decoder(1007)).toBe(d.decoder(1007));
    expect(d.decoder(16_402)).toBe(d.decoder(23));
    expect(d.problem(23)).toBeUndefined();
    expect(d.problem(16_403)).toBeUndefined();
  });

  test.each([
    [16, 2],
    [18, 0],
    [20, 7],
    [21, 1],
    [23, 3],
    [700, 8],
    [701, 4],
    [1082, 8],
    [1083, 4],
    [1266, 8],
    [1184, 4],
    [1186, 12],
    [2950, 15],
    [829, 8],
    [774, 6],
  ])('type %i with %i bytes is invalid_value', (oid, n) => {
    const err = invalidValue(() => decoders().decoder(oid)!(new Uint8Array(n), 0, n));
    expect(err.message).toMatch(/^binary .* value has \d+ bytes; expected \d+$/);
  });

  test('bounds outside the buffer are invalid_value, not a read past the end', () => {
    const d = decoders();
    invalidValue(() => d.decoder(23)!(new Uint8Array(4), 2, 4));
    invalidValue(() => d.decoder(25)!(new Uint8Array(4), 3, 2));
    invalidValue(() => d.decoder(17)!(new Uint8Array(4), -1, 2));
  });

  test('malformed variable-length values are invalid_value', () => {
    const d = decoders();
    const bad: [number, Uint8Array][] = [
      [25, new Uint8Array([0x61, 0xff])],
      [16_401, new Uint8Array([0xc3])],
      [3802, new Uint8Array([2, 0x7b, 0x7d])],
      [3802, new Uint8Array([])],
      [1700, be(['i16', 2], ['i16', 0], ['i16', 0], ['i16', 0], ['i16', 1])],
      [1700, be(['i16', 1], ['i16', 0], ['i16', 0x2000], ['i16', 0], ['i16', 1])],
      [1700, be(['i16', 1], ['i16', 0], ['i16', 0], ['i16', 0], ['i16', 10_000])],
      [869, be(['i8', 4], ['i8', 32], ['i8', 0], ['i8', 4], ['i32', 0])],
      [869, be(['i8', 2], ['i8', 33], ['i8', 0], ['i8', 4], ['i32', 0])],
      [1560, be(['i32', 9], ['i8', 0])],
      [1560, be(['i32', -1])],
      [1082, be(['i32', 2_145_031_949])],
      [1083, be(['i64', 86_400_000_001n])],
      [1266, be(['i64', 0n], ['i32', 57_600])],
      [1184, be(['i64', 9_223_371_331_200_000_000n])],
      [1007, int4Array([1], 1, 25)],
      [1007, int4Array([1, 2]).subarray(0, 24)],
      [1007, new Uint8Array([...int4Array([1]), 0])],
      [1007, be(['i32', 7], ['i32', 0], ['i32', 23])],
      [
        1007,
        be(['i32', 1], ['i32', 2], ['i32', 23], ['i32', 1], ['i32', 1], ['i32', 4], ['i32', 1]),
      ],
      [
        1007,
        be(['i32', 1], ['i32', 0], ['i32', 23], ['i32', 0x7fff_ffff], ['i32', 1], ['i32', -1]),
      ],
      [1007, be(['i32', 1], ['i32', 0], ['i32', 23], ['i32', 1], ['i32', 1], ['i32', -2])],
    ];
    for (const [oid, bytes] of bad) invalidValue(() => d.decoder(oid)!(bytes, 0, bytes.length));
    expect(invalidValue(() => d.decoder(25)!(new Uint8Array([0xff]), 0, 1)).message).toBe(
      'binary text value is not valid UTF-8',
    );
    expect(invalidValue(() => d.decoder(16_401)!(new Uint8Array([0xff]), 0, 1)).message).toMatch(
      /^binary mood value/,
    );
  });

  test('problem() says why a type has no decoder', () => {
    const d = decoders();
    expect(d.problem(790)).toBe(
      'type money (OID 790) has no binary-to-text decoder: money is not supported (its text output depends on lc_monetary)',
    );
    expect(d.problem(791)).toMatch(
      /^type money\[\] \(OID 791\) has no binary-to-text decoder: its element type money has none \(money is not supported/,
    );
    expect(d.problem(16_404)).toMatch(/^type amount .* its base type money has none/);
    expect(d.problem(3904)).toMatch(/range types are not supported$/);
    expect(d.problem(16_400)).toMatch(/composite types are not supported$/);
    expect(d.problem(22)).toMatch(/int2vector prints a space-separated list/);
    expect(d.problem(99_999)).toMatch(
      /^type OID 99999 has no binary-to-text decoder: it is not among the type descriptions given/,
    );
    for (const oid of [790, 791, 16_404, 3904, 16_400, 22, 99_999])
      expect(d.decoder(oid)).toBeUndefined();
  });

  test('types shaped by a setting that is not reproduced have a problem; the others still decode', () => {
    const d = new BinaryTextDecoders(
      { ...DEFAULTS, IntervalStyle: 'iso_8601', TimeZone: '<+05>-05', extra_float_digits: '0' },
      TYPES,
    );
    expect(d.problem(1186)).toMatch(
      /^type interval \(OID 1186\) has no binary-to-text decoder: its text output depends on settings: IntervalStyle is 'iso_8601'/,
    );
    expect(d.problem(1187)).toMatch(/^type interval\[\] .* its element type interval has none/);
    expect(d.problem(1184)).toMatch(/TimeZone is '<\+05>-05'/);
    expect(d.problem(701)).toMatch(/extra_float_digits is '0'/);
    expect(d.problem(700)).toMatch(/extra_float_digits is '0'/);
    expect(d.decoder(1082)).toBeDefined();
    expect(d.decoder(1266)).toBeDefined();
    expect(d.decoder(17)).toBeDefined();
  });
});

describe('binaryTextSettingsProblem', () => {
  test('the defaults (and any ISO DateStyle, any extra_float_digits >= 1, any IANA zone) are reproduced', () => {
    expect(binaryTextSettingsProblem(DEFAULTS)).toBeUndefined();
    expect(
      binaryTextSettingsProblem({
        ...DEFAULTS,
        DateStyle: 'ISO, DMY',
        extra_float_digits: '3',
        TimeZone: 'Australia/Lord_Howe',
      }),
    ).toBeUndefined();
  });

  test.each([
    [{ DateStyle: 'SQL, DMY' }, /^DateStyle is 'SQL, DMY'; only ISO output is reproduced/],
    [{ DateStyle: 'Postgres, MDY' }, /^DateStyle is 'Postgres, MDY'/],
    [{ IntervalStyle: 'sql_standard' }, /^IntervalStyle is 'sql_standard'; only 'postgres'/],
    [{ extra_float_digits: '0' }, /^extra_float_digits is '0'/],
    [{ extra_float_digits: '-15' }, /^extra_float_digits is '-15'/],
    [{ bytea_output: 'escape' }, /^bytea_output is 'escape'; only 'hex'/],
    [{ TimeZone: '<+05>-05' }, /^TimeZone is '<\+05>-05', which JavaScript's Intl does not know/],
    [{ TimeZone: 'localtime' }, /^TimeZone is 'localtime'/],
  ])('%o', (change, message) => {
    expect(binaryTextSettingsProblem({ ...DEFAULTS, ...change })).toMatch(message);
  });

  test('every problem is listed', () => {
    const all = binaryTextSettingsProblem({
      DateStyle: 'German',
      IntervalStyle: 'iso_8601',
      extra_float_digits: '0',
      bytea_output: 'escape',
      TimeZone: 'Nowhere/Else',
    });
    for (const s of [
      'DateStyle',
      'IntervalStyle',
      'extra_float_digits',
      'bytea_output',
      'TimeZone',
    ]) {
      expect(all).toContain(s);
    }
  });
});
