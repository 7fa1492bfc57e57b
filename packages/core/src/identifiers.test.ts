import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { displayIdent, quoteIdent, quoteLiteral } from './identifiers.js';

const samples = [
  '',
  'plain',
  'MixedCase',
  'with space',
  'a.b',
  'quote"inside',
  '""',
  "it's",
  "''",
  'back\\slash',
  "both\\'",
  '\\',
  'unicode é ✓',
  'new\nline',
  'user',
];

describe('quoting matches pg', () => {
  test.each(samples)('quoteIdent(%j)', (s) => {
    expect(quoteIdent(s)).toBe(pg.escapeIdentifier(s));
  });

  test.each(samples)('quoteLiteral(%j)', (s) => {
    expect(quoteLiteral(s)).toBe(pg.escapeLiteral(s));
  });

  test('a backslash turns the literal into the E form, as pg does', () => {
    expect(quoteLiteral('a\\b')).toBe(" E'a\\\\b'");
    expect(quoteLiteral("o'k")).toBe("'o''k'");
  });
});

describe('displayIdent', () => {
  test.each([
    ['orders', 'orders'],
    ['_t1', '_t1'],
    ['order_lines2', 'order_lines2'],
    ['Orders', '"Orders"'],
    ['1st', '"1st"'],
    ['a.b', '"a.b"'],
    ['with space', '"with space"'],
    ['a$b', '"a$b"'],
    ['q"t', '"q""t"'],
    ['', '""'],
    ['user', '"user"'],
    ['select', '"select"'],
    ['left', '"left"'],
    ['table', '"table"'],
    // unreserved and column-name keywords name tables fine unquoted
    ['data', 'data'],
    ['integer', 'integer'],
  ])('%j -> %s', (name, shown) => {
    expect(displayIdent(name)).toBe(shown);
  });
});
