import { describe, expect, test } from 'vitest';
import { inlineParams, sqlLiteral } from './sql-literal.js';

describe('sqlLiteral', () => {
  test.each([
    [null, 'NULL'],
    [undefined, 'NULL'],
    ['abc', "'abc'"],
    ['', "''"],
    ["it's", "E'it''s'"],
    ['a\\b', "E'a\\\\b'"],
    ['{"x\\"y"}', 'E\'{"x\\\\"y"}\''],
    [true, "'true'"],
    [42, "'42'"],
  ])('%j -> %s', (v, lit) => {
    expect(sqlLiteral(v)).toBe(lit);
  });
});

describe('inlineParams', () => {
  test('replaces each $n by its literal, casts kept', () => {
    expect(
      inlineParams('SELECT $1::int, $2::text[], $10::text', [...'123456789'.split(''), 'x']),
    ).toBe("SELECT '1'::int, '2'::text[], 'x'::text");
  });

  test('leaves $n inside quoted identifiers and string constants alone', () => {
    const text = `SELECT "a$1""$2", '$1''$2', E'\\'$1', $1::text, e'\\\\' AS "x", $2::int`;
    expect(inlineParams(text, ['v', null])).toBe(
      `SELECT "a$1""$2", '$1''$2', E'\\'$1', 'v'::text, e'\\\\' AS "x", NULL::int`,
    );
  });

  test('no parameters: the text unchanged; a reference past the end throws', () => {
    expect(inlineParams('SELECT $1', [])).toBe('SELECT $1');
    expect(() => inlineParams('SELECT $2', ['a'])).toThrow(/\$2 but has 1/);
  });
});
