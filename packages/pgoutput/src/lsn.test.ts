import { describe, expect, test } from 'vitest';
import { PgoutputError } from './errors.js';
import { compareLsn, formatLsn, parseLsn } from './lsn.js';

describe('LSN helpers', () => {
  test('parse and format round-trip like PostgreSQL prints them', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16_b374d848n);
    expect(formatLsn(0x16_b374d848n)).toBe('16/B374D848');
    expect(parseLsn('0/0')).toBe(0n);
    expect(formatLsn(0n)).toBe('0/0');
    expect(parseLsn('0/016B3748')).toBe(0x16b3748n); // zero-padded (PostgreSQL 18 style)
    expect(formatLsn(0x16b3748n)).toBe('0/16B3748');
    expect(parseLsn('a/b')).toBe(0xa_0000000bn);
  });

  test.each(['', '1', '1/', '/1', '1/2/3', 'G/1', '123456789/0', ' 1/1', '1/1 ', '-1/1', '0x1/1'])(
    'rejects %j',
    (text) => {
      expect(() => parseLsn(text)).toThrow(PgoutputError);
      try {
        parseLsn(text);
      } catch (err) {
        expect((err as PgoutputError).code).toBe('invalid_lsn');
        expect((err as Error).message).toContain('X/Y');
      }
    },
  );

  test('format refuses values outside 0..2^64-1', () => {
    expect(() => formatLsn(-1n)).toThrow(/not an LSN/);
    expect(() => formatLsn(1n << 64n)).toThrow(/not an LSN/);
    expect(() => formatLsn(5 as unknown as bigint)).toThrow(/not an LSN/);
  });

  test('compare', () => {
    expect(compareLsn(1n, 2n)).toBe(-1);
    expect(compareLsn(2n, 2n)).toBe(0);
    expect(compareLsn(0x1_00000000n, 0xffffffffn)).toBe(1);
    expect([parseLsn('1/0'), parseLsn('0/FFFFFFFF'), parseLsn('0/1')].sort(compareLsn)).toEqual([
      1n,
      0xffffffffn,
      0x1_00000000n,
    ]);
  });
});
