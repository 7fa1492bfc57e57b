import { describe, expect, test } from 'vitest';
import { formatLsn, LsnError, parseLsn } from './lsn.js';

describe('LSN text', () => {
  test.each([
    ['0/0', 0n],
    ['1/0', 0x1_0000_0000n],
    ['0/1', 1n],
    ['16/B374D848', 0x16_b374_d848n],
    ['0/FFFFFFFF', 0xffff_ffffn],
    ['80000000/0', 0x8000_0000_0000_0000n],
    ['FFFFFFFF/FFFFFFFF', 0xffff_ffff_ffff_ffffn],
    // above 2^53: a Number would round these
    ['200000/1', 0x20_0000_0000_0001n],
    ['DEADBEEF/CAFEBABE', 0xdead_beef_cafe_baben],
  ])('%s is %s and prints back the same', (text, value) => {
    expect(parseLsn(text)).toBe(value);
    expect(formatLsn(value)).toBe(text);
  });

  test('reads zero-padded and lower-case text as PostgreSQL may print it', () => {
    expect(parseLsn('0/016B3748')).toBe(0x16b_3748n);
    expect(parseLsn('a/b')).toBe(0xa_0000_000bn);
    expect(formatLsn(0xa_0000_000bn)).toBe('A/B');
  });

  test.each(['', '0', '0/', '/0', '0/0/0', 'G/0', '123456789/0', '0/123456789', ' 0/0', '0x1/0'])(
    'rejects %j with the text and the expected form',
    (text) => {
      expect(() => parseLsn(text)).toThrow(LsnError);
      try {
        parseLsn(text);
      } catch (e) {
        expect((e as LsnError).code).toBe('invalid_lsn');
        expect((e as LsnError).input).toBe(text);
        expect((e as LsnError).message).toContain(JSON.stringify(text));
        expect((e as LsnError).message).toContain('X/Y');
      }
    },
  );

  test('refuses to format what is not a 64-bit unsigned bigint', () => {
    expect(() => formatLsn(-1n)).toThrow(LsnError);
    expect(() => formatLsn(1n << 64n)).toThrow(/not an LSN/);
    expect(() => formatLsn(5 as unknown as bigint)).toThrow(/not an LSN/);
  });
});
