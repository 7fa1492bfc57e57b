import { describe, expect, test } from 'vitest';
import {
  dateToPgTimestamp,
  nowPgTimestamp,
  PG_EPOCH_MS,
  PG_TIMESTAMP_INFINITY,
  PG_TIMESTAMP_MINUS_INFINITY,
  pgTimestampToDate,
  pgTimestampToIso,
} from './pg-time.js';

describe('PostgreSQL timestamps', () => {
  test('the epoch is 2000-01-01', () => {
    expect(new Date(PG_EPOCH_MS).toISOString()).toBe('2000-01-01T00:00:00.000Z');
    expect(pgTimestampToDate(0n).toISOString()).toBe('2000-01-01T00:00:00.000Z');
    expect(pgTimestampToIso(0n)).toBe('2000-01-01T00:00:00.000000Z');
  });

  test('microseconds are kept by the ISO form and truncated toward the past by Date', () => {
    // 2026-11-22T10:00:00.123456Z
    const us = BigInt(Date.UTC(2026, 10, 22, 10) - PG_EPOCH_MS) * 1000n + 123_456n;
    expect(pgTimestampToIso(us)).toBe('2026-11-22T10:00:00.123456Z');
    expect(pgTimestampToDate(us).toISOString()).toBe('2026-11-22T10:00:00.123Z');
    expect(pgTimestampToIso(-1n)).toBe('1999-12-31T23:59:59.999999Z');
    expect(pgTimestampToDate(-1n).toISOString()).toBe('1999-12-31T23:59:59.999Z');
  });

  test('ISO agrees with Date on many dates, including leap days and years before 1970', () => {
    for (const ms of [
      Date.UTC(1970, 0, 1),
      Date.UTC(1600, 1, 29, 12),
      Date.UTC(2000, 1, 29, 23, 59, 59, 999),
      Date.UTC(2100, 2, 1),
      Date.UTC(9999, 11, 31, 23, 59, 59),
      Date.UTC(1, 0, 1),
      -62198755200000, // 0000-01-01
    ]) {
      const us = BigInt(ms - PG_EPOCH_MS) * 1000n + 7n;
      const iso = new Date(ms).toISOString().replace('Z', '007Z');
      expect(pgTimestampToIso(us)).toBe(iso);
      expect(pgTimestampToDate(us).getTime()).toBe(ms);
    }
  });

  test('infinities and the ends of the int64 range', () => {
    expect(pgTimestampToIso(PG_TIMESTAMP_INFINITY)).toBe('infinity');
    expect(pgTimestampToIso(PG_TIMESTAMP_MINUS_INFINITY)).toBe('-infinity');
    expect(pgTimestampToIso(PG_TIMESTAMP_INFINITY - 1n)).toBe('+294277-01-09T04:00:54.775806Z');
    expect(pgTimestampToIso(-(10n ** 17n))).toMatch(/^-00\d{4}-/);
    expect(() => pgTimestampToDate(PG_TIMESTAMP_INFINITY)).toThrow(/pgTimestampToIso/);
    expect(() => pgTimestampToDate(PG_TIMESTAMP_MINUS_INFINITY)).toThrow(/outside the range/);
    expect(() => pgTimestampToIso(1n << 63n)).toThrow(/int64/);
  });

  test('Date and now to PostgreSQL microseconds', () => {
    expect(dateToPgTimestamp(new Date('2000-01-01T00:00:01.5Z'))).toBe(1_500_000n);
    expect(dateToPgTimestamp(new Date('1999-12-31T23:59:59Z'))).toBe(-1_000_000n);
    expect(() => dateToPgTimestamp(new Date(Number.NaN))).toThrow(/valid Date/);
    const before = BigInt(Date.now() - PG_EPOCH_MS) * 1000n;
    const now = nowPgTimestamp();
    const after = BigInt(Date.now() - PG_EPOCH_MS) * 1000n;
    expect(now >= before && now <= after).toBe(true);
  });
});
