import { describe, expect, it } from 'vitest';
import { CopySyncError } from './errors.js';
import { formatLsn, parseLsn } from './lsn.js';

describe('lsn', () => {
  it('round-trips, high bits included', () => {
    for (const text of ['0/0', '0/16B3748', '1/0', 'FFFFFFFF/FFFFFFFF', '80000000/80000000']) {
      expect(formatLsn(parseLsn(text))).toBe(text);
    }
    expect(parseLsn('1/2')).toBe((1n << 32n) | 2n);
  });
  it('rejects what is not an LSN', () => {
    expect(() => parseLsn('12')).toThrow(CopySyncError);
    expect(() => formatLsn(-1n)).toThrow(/out of range/);
  });
});
