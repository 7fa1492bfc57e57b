import { describe, expect, test } from 'vitest';
import { civil, civilFromDays } from './civil-date.js';

describe('civilFromDays', () => {
  test('agrees with Date across its whole range, leap days and years before 1 AD included', () => {
    // Date covers +-100,000,000 days around 1970-01-01.
    for (let days = -100_000_000; days <= 100_000_000; days += 9_973) {
      const d = new Date(days * 86_400_000);
      civilFromDays(days);
      expect([civil.year, civil.month, civil.day]).toEqual([
        d.getUTCFullYear(),
        d.getUTCMonth() + 1,
        d.getUTCDate(),
      ]);
    }
    for (const [days, ymd] of [
      [0, [1970, 1, 1]],
      [-1, [1969, 12, 31]],
      [10_957, [2000, 1, 1]],
      [11_016, [2000, 2, 29]],
      [-719_528, [0, 1, 1]],
      [-719_529, [-1, 12, 31]],
    ] as const) {
      civilFromDays(days);
      expect([civil.year, civil.month, civil.day]).toEqual(ymd);
    }
  });
});
