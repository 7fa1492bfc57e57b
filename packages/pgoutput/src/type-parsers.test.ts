import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseArray, parseDateTime } from './pg-text-values.js';
import { createTypeParsers, defaultTypeParsers, PG_TYPE_OIDS as T } from './type-parsers.js';

const p = (oid: number, text: string): unknown => {
  const parse = defaultTypeParsers[oid];
  if (!parse) throw new Error(`no parser for ${oid}`);
  return parse(text);
};

describe('default type parsers', () => {
  test('integers, int8 as bigint, bool, floats', () => {
    expect(p(T.int2, '-32768')).toBe(-32768);
    expect(p(T.int4, '2147483647')).toBe(2147483647);
    expect(p(T.oid, '4294967295')).toBe(4294967295);
    expect(p(T.int8, '-9223372036854775808')).toBe(-9223372036854775808n);
    expect(p(T.bool, 't')).toBe(true);
    expect(p(T.bool, 'f')).toBe(false);
    expect(() => p(T.bool, 'true')).toThrow(TypeError);
    expect(() => p(T.int4, 'x')).toThrow(TypeError);
    expect(() => p(T.int8, '1.5')).toThrow(TypeError);
    expect(p(T.float8, '1.5e-300')).toBe(1.5e-300);
    expect(p(T.float4, 'NaN')).toBeNaN();
    expect(p(T.float8, '-Infinity')).toBe(Number.NEGATIVE_INFINITY);
    expect(() => p(T.float8, 'abc')).toThrow(TypeError);
  });

  test('numeric and text-like types stay raw text (lossless)', () => {
    expect(defaultTypeParsers[T.numeric]).toBe(undefined);
    expect(defaultTypeParsers[T.text]).toBe(undefined);
    expect(defaultTypeParsers[T.uuid]).toBe(undefined);
    expect(p(T._numeric, '{1.10,NaN,NULL}')).toEqual(['1.10', 'NaN', null]);
  });

  test('json / jsonb', () => {
    expect(p(T.jsonb, '{"a": [1, null]}')).toEqual({ a: [1, null] });
    expect(p(T.json, 'null')).toBe(null);
    expect(p(T._jsonb, '{"{\\"a\\": 1}",NULL}')).toEqual([{ a: 1 }, null]);
  });

  test('bytea hex and escape formats', () => {
    expect(p(T.bytea, '\\x00ff10')).toEqual(new Uint8Array([0, 255, 16]));
    expect(p(T.bytea, '\\x')).toEqual(new Uint8Array(0));
    expect(p(T.bytea, 'a\\\\b\\001\\377')).toEqual(new Uint8Array([97, 92, 98, 1, 255]));
    expect(() => p(T.bytea, '\\x0')).toThrow(TypeError);
    expect(() => p(T.bytea, 'bad\\9')).toThrow(TypeError);
    expect(p(T._bytea, '{"\\\\x01",NULL}')).toEqual([new Uint8Array([1]), null]);
  });

  test('timestamps, timestamptz and dates become Dates; infinities stay distinct', () => {
    expect((p(T.timestamptz, '2026-11-22 10:00:00.123456+00') as Date).toISOString()).toBe(
      '2026-11-22T10:00:00.123Z',
    );
    expect((p(T.timestamptz, '2026-11-22 15:30:00+05:30') as Date).toISOString()).toBe(
      '2026-11-22T10:00:00.000Z',
    );
    expect((p(T.timestamptz, '1900-01-01 00:00:00-00:09:21') as Date).toISOString()).toBe(
      '1900-01-01T00:09:21.000Z',
    );
    expect((p(T.timestamp, '2026-11-22 10:00:00.5') as Date).toISOString()).toBe(
      '2026-11-22T10:00:00.500Z',
    );
    expect((p(T.date, '2026-02-28') as Date).toISOString()).toBe('2026-02-28T00:00:00.000Z');
    expect((p(T.date, '0044-03-15 BC') as Date).toISOString()).toBe('-000043-03-15T00:00:00.000Z');
    expect((p(T.date, '0099-01-01') as Date).getUTCFullYear()).toBe(99);
    expect((p(T.date, '10000-01-01') as Date).getUTCFullYear()).toBe(10000);
    expect(p(T.timestamptz, 'infinity')).toBe(Number.POSITIVE_INFINITY);
    expect(p(T.date, '-infinity')).toBe(Number.NEGATIVE_INFINITY);
    expect(() => p(T.timestamptz, '11/22/2026 10:00:00 UTC')).toThrow(/DateStyle/);
    expect(() => parseDateTime('294277-01-01')).toThrow(/range/);
    const arr = p(T._timestamptz, '{"2026-11-22 10:00:00+00",infinity,NULL}') as unknown[];
    expect((arr[0] as Date).toISOString()).toBe('2026-11-22T10:00:00.000Z');
    expect(arr.slice(1)).toEqual([Number.POSITIVE_INFINITY, null]);
  });

  test('arrays: quoting, escapes, NULL vs "NULL", empty, nested, bounds', () => {
    expect(p(T._text, '{a,"b c","d\\"e","f\\\\g",NULL,"NULL",""}')).toEqual([
      'a',
      'b c',
      'd"e',
      'f\\g',
      null,
      'NULL',
      '',
    ]);
    expect(p(T._int4, '{}')).toEqual([]);
    expect(p(T._int4, '{{1,2},{3,NULL}}')).toEqual([
      [1, 2],
      [3, null],
    ]);
    expect(p(T._int4, '[0:1]={7,8}')).toEqual([7, 8]);
    expect(p(T._int8, '{9223372036854775807}')).toEqual([9223372036854775807n]);
    expect(p(T._bool, '{t,f}')).toEqual([true, false]);
    expect(p(T._varchar, '{"{}",","}')).toEqual(['{}', ',']);
    for (const bad of ['', '{', '{1', '{1,}', '{"a}', '{1}x', 'x']) {
      expect(() => parseArray(bad, (s) => s)).toThrow(TypeError);
    }
  });
});

describe('createTypeParsers options', () => {
  test('int8 / numeric / dates / json switches and overrides', () => {
    const parsers = createTypeParsers({
      int8: 'string',
      numeric: 'number',
      dates: 'string',
      json: 'string',
      overrides: { [T.int4]: (s) => `int:${s}`, [T.bool]: undefined },
    });
    expect(parsers[T.int8]).toBe(undefined);
    expect(parsers[T.numeric]?.('1.25')).toBe(1.25);
    expect(parsers[T.timestamptz]).toBe(undefined);
    expect(parsers[T._timestamptz]?.('{infinity}')).toEqual(['infinity']);
    expect(parsers[T.jsonb]).toBe(undefined);
    expect(parsers[T.int4]?.('5')).toBe('int:5');
    expect(parsers[T.bool]).toBe(undefined);
    expect(parsers[T._int8]?.('{1}')).toEqual(['1']);
  });

  test('bad option values name the choices', () => {
    expect(() => createTypeParsers({ int8: 'number' as 'bigint' })).toThrow(/'bigint' or 'string'/);
  });

  test('defaultTypeParsers is frozen', () => {
    expect(Object.isFrozen(defaultTypeParsers)).toBe(true);
  });
});

describe('timestamp parsing, fast path against the general one', () => {
  test('random timestamps with fractions and offsets parse to the exact millisecond', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1000, 0, 1), max: Date.UTC(9999, 11, 31) }),
        fc.integer({ min: 0, max: 999_999 }),
        fc.integer({ min: 0, max: 6 }),
        fc.option(fc.integer({ min: -15 * 60, max: 15 * 60 })),
        (ms, micros, digits, offsetMin) => {
          const wall = new Date(ms - (ms % 1000) + (offsetMin ?? 0) * 60_000);
          const iso = wall.toISOString();
          const frac = String(micros).padStart(6, '0').slice(0, digits);
          let text = `${iso.slice(0, 10)} ${iso.slice(11, 19)}${digits > 0 ? `.${frac}` : ''}`;
          if (offsetMin !== null) {
            const a = Math.abs(offsetMin);
            const hh = String(Math.floor(a / 60)).padStart(2, '0');
            const mm = String(a % 60).padStart(2, '0');
            text += `${offsetMin < 0 ? '-' : '+'}${hh}${a % 60 === 0 ? '' : `:${mm}`}`;
          }
          const fracMs = digits === 0 ? 0 : Math.floor(Number(`0.${frac}`) * 1000 + 1e-9);
          const expected = ms - (ms % 1000) + fracMs;
          expect((parseDateTime(text) as Date).getTime()).toBe(expected);
          // The same text with a BC-free long form goes through the regular expression.
          expect((parseDateTime(`0${text}`) as Date).getTime()).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
