import { civil, civilFromDays } from './civil-date.js';
import { PgoutputError } from './errors.js';

/** 2000-01-01T00:00:00Z, the PostgreSQL epoch, in Unix milliseconds. */
export const PG_EPOCH_MS = 946_684_800_000;
/** What PostgreSQL sends for `infinity` (int64 max microseconds). */
export const PG_TIMESTAMP_INFINITY = 0x7fff_ffff_ffff_ffffn;
/** What PostgreSQL sends for `-infinity` (int64 min microseconds). */
export const PG_TIMESTAMP_MINUS_INFINITY = -0x8000_0000_0000_0000n;

const PG_EPOCH_US = BigInt(PG_EPOCH_MS) * 1000n;
const US_PER_DAY = 86_400_000_000n;
/** JavaScript `Date` covers +-8.64e15 ms around the Unix epoch. */
const DATE_MAX_US = 8_640_000_000_000_000_000n;

function checkTimestamp(us: bigint): void {
  if (typeof us !== 'bigint' || us < PG_TIMESTAMP_MINUS_INFINITY || us > PG_TIMESTAMP_INFINITY) {
    throw new PgoutputError(
      'invalid_timestamp',
      `timestamp ${String(us)} is not a PostgreSQL timestamp; expected a bigint of microseconds since 2000-01-01 in the int64 range`,
    );
  }
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b < 0n ? q - 1n : q;
}

/**
 * Microseconds since 2000-01-01 (as pgoutput sends them) to a `Date`.
 * Sub-millisecond digits are dropped (rounded toward the past). `infinity`,
 * `-infinity` and other values outside the `Date` range throw
 * `invalid_timestamp`: test for `PG_TIMESTAMP_INFINITY` first, or use
 * `pgTimestampToIso`, which is lossless.
 */
export function pgTimestampToDate(us: bigint): Date {
  checkTimestamp(us);
  const unixUs = us + PG_EPOCH_US;
  if (
    us === PG_TIMESTAMP_INFINITY ||
    us === PG_TIMESTAMP_MINUS_INFINITY ||
    unixUs > DATE_MAX_US ||
    unixUs < -DATE_MAX_US
  ) {
    throw new PgoutputError(
      'invalid_timestamp',
      `timestamp ${us} (${pgTimestampToIso(us)}) is outside the range of a JavaScript Date; use pgTimestampToIso`,
    );
  }
  return new Date(Number(floorDiv(unixUs, 1000n)));
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/**
 * Microseconds since 2000-01-01 to ISO 8601 UTC text with all six fraction
 * digits (`2026-11-22T10:00:00.123456Z`), exact for the whole int64 range.
 * Years outside 0000-9999 use the expanded form (`+294277-...`, `-000044-...`).
 * PostgreSQL's infinities become `'infinity'` and `'-infinity'`.
 */
export function pgTimestampToIso(us: bigint): string {
  checkTimestamp(us);
  if (us === PG_TIMESTAMP_INFINITY) return 'infinity';
  if (us === PG_TIMESTAMP_MINUS_INFINITY) return '-infinity';
  const unixUs = us + PG_EPOCH_US;
  const days = floorDiv(unixUs, US_PER_DAY);
  let rest = Number(unixUs - days * US_PER_DAY);
  const micros = rest % 1_000_000;
  rest = (rest - micros) / 1_000_000;
  const sec = rest % 60;
  rest = (rest - sec) / 60;
  const min = rest % 60;
  const hour = (rest - min) / 60;
  civilFromDays(Number(days));
  const { year, month, day } = civil;
  const y =
    year >= 0 && year <= 9999 ? pad(year, 4) : (year < 0 ? '-' : '+') + pad(Math.abs(year), 6);
  return `${y}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(min, 2)}:${pad(sec, 2)}.${pad(micros, 6)}Z`;
}

/** A `Date` to microseconds since 2000-01-01 (for standby status updates and comparisons). */
export function dateToPgTimestamp(d: Date): bigint {
  const ms = d instanceof Date ? d.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new PgoutputError('invalid_timestamp', 'dateToPgTimestamp needs a valid Date');
  }
  return (BigInt(ms) - BigInt(PG_EPOCH_MS)) * 1000n;
}

/** The current time in microseconds since 2000-01-01 (millisecond resolution). */
export function nowPgTimestamp(): bigint {
  return (BigInt(Date.now()) - BigInt(PG_EPOCH_MS)) * 1000n;
}
