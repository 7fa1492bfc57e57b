/** Decoders of the date and time types, as PostgreSQL prints them with DateStyle ISO and IntervalStyle postgres. */
import { int32At, uint32At } from './big-endian.js';
import type { BinaryTextDecoder } from './binary-text.js';
import { checkLength, invalid, pad2, pad4 } from './binary-text-common.js';
import { civil, civilFromDays } from './civil-date.js';
import { PgoutputError } from './errors.js';

/** Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch. */
const EPOCH_DAYS = 10_957;
const EPOCH_SECONDS = EPOCH_DAYS * 86_400;
/** date_recv's range: 4714-11-24 BC to 5874897-12-31, in days since 2000-01-01. */
const MIN_DATE = -2_451_545;
const END_DATE = 2_145_031_949;
/** timestamp_recv's range in seconds since 2000-01-01: 4714-11-24 BC 00:00 to 294277-01-01 00:00 (excluded). */
const MIN_TIMESTAMP_SECONDS = -211_813_488_000;
const END_TIMESTAMP_SECONDS = 9_223_371_331_200;
const USECS_PER_DAY = 86_400_000_000;

// The result of secondsAt, in a module slot: decoding allocates only its string.
let splitMicros = 0;

/** YYYY-MM-DD of a day count since 2000-01-01; year 0 and before are BC years (civil.year <= 0 tells). */
function isoDate(days: number): string {
  civilFromDays(days + EPOCH_DAYS);
  return (
    pad4(civil.year > 0 ? civil.year : 1 - civil.year) +
    '-' +
    pad2(civil.month) +
    '-' +
    pad2(civil.day)
  );
}

/** AppendSeconds: the fraction with its trailing zeros dropped, nothing when zero. */
function fraction(us: number): string {
  if (us === 0) return '';
  let width = 6;
  while (us % 10 === 0) {
    us /= 10;
    width--;
  }
  const t = '' + us;
  return '.' + (t.length === width ? t : '0'.repeat(width - t.length) + t);
}

function clock(secondOfDay: number, us: number): string {
  const h = Math.floor(secondOfDay / 3600);
  const rest = secondOfDay - h * 3600;
  const m = Math.floor(rest / 60);
  return pad2(h) + ':' + pad2(m) + ':' + pad2(rest - m * 60) + fraction(us);
}

/** EncodeTimezone: +hh, +hh:mm, or +hh:mm:ss (LMT offsets) east of UTC. */
function zoneText(gmtoff: number): string {
  const a = gmtoff < 0 ? -gmtoff : gmtoff;
  const h = Math.floor(a / 3600);
  const m = Math.floor((a - h * 3600) / 60);
  const sec = a - h * 3600 - m * 60;
  const sign = gmtoff < 0 ? '-' : '+';
  if (sec !== 0) return sign + pad2(h) + ':' + pad2(m) + ':' + pad2(sec);
  if (m !== 0) return sign + pad2(h) + ':' + pad2(m);
  return sign + pad2(h);
}

/**
 * The int64 at `p` as floor(seconds), with the microseconds (0 to 999999)
 * left in `splitMicros`. Timestamps past 2285 exceed 2^53 microseconds, so
 * no single float holds them: 2^32 is split as 4294 * 10^6 + 967296.
 */
function secondsAt(b: Uint8Array, p: number): number {
  const hi = int32At(b, p);
  const rest = hi * 967_296 + uint32At(b, p + 4);
  let sec = Math.floor(rest / 1e6);
  let us = rest - sec * 1e6;
  if (us < 0) {
    sec--;
    us += 1e6;
  } else if (us >= 1e6) {
    sec++;
    us -= 1e6;
  }
  splitMicros = us;
  return hi * 4294 + sec;
}

function isInt64Max(b: Uint8Array, p: number): boolean {
  return int32At(b, p) === 0x7fff_ffff && uint32At(b, p + 4) === 0xffff_ffff;
}

function isInt64Min(b: Uint8Array, p: number): boolean {
  return int32At(b, p) === -0x8000_0000 && uint32At(b, p + 4) === 0;
}

export const dateDecoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('date', b, s, n, 4);
  const days = int32At(b, s);
  if (days === 0x7fff_ffff) return 'infinity';
  if (days === -0x8000_0000) return '-infinity';
  if (days < MIN_DATE || days >= END_DATE) throw invalid('date', `${days} is out of range`);
  const text = isoDate(days);
  return civil.year > 0 ? text : text + ' BC';
};

/** timestamp_out, or timestamptz_out when `zone` is given: ISO date, time, zone offset, then BC. */
export function timestampDecoder(type: string, zone: ZoneOffsets | undefined): BinaryTextDecoder {
  return (b, s, n) => {
    checkLength(type, b, s, n, 8);
    if (isInt64Max(b, s)) return 'infinity';
    if (isInt64Min(b, s)) return '-infinity';
    let sec = secondsAt(b, s);
    const us = splitMicros;
    if (sec < MIN_TIMESTAMP_SECONDS || sec >= END_TIMESTAMP_SECONDS) {
      throw invalid(type, 'is out of range');
    }
    const gmtoff = zone === undefined ? 0 : zone.offsetAt(sec + EPOCH_SECONDS);
    sec += gmtoff;
    const days = Math.floor(sec / 86_400);
    let text = isoDate(days) + ' ' + clock(sec - days * 86_400, us);
    if (zone !== undefined) text += zoneText(gmtoff);
    return civil.year > 0 ? text : text + ' BC';
  };
}

function timeAt(type: string, b: Uint8Array, s: number): number {
  const hi = int32At(b, s);
  const us = hi * 0x1_0000_0000 + uint32At(b, s + 4);
  if (hi < 0 || us > USECS_PER_DAY) throw invalid(type, `${us} microseconds is out of range`);
  return us;
}

function timeText(us: number): string {
  const sec = Math.floor(us / 1e6);
  return clock(sec, us - sec * 1e6);
}

export const timeDecoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('time without time zone', b, s, n, 8);
  return timeText(timeAt('time without time zone', b, s));
};

/** timetz_send: the time, then the zone in seconds WEST of UTC. */
export const timetzDecoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('time with time zone', b, s, n, 12);
  const us = timeAt('time with time zone', b, s);
  const west = int32At(b, s + 8);
  if (west <= -57_600 || west >= 57_600) {
    throw invalid('time with time zone', `has zone offset ${west} s`);
  }
  return timeText(us) + zoneText(-west);
};

/** interval_send: time (int64 us), days, months; printed as EncodeInterval with IntervalStyle postgres. */
export const intervalDecoder: BinaryTextDecoder = (b, s, n) => {
  checkLength('interval', b, s, n, 16);
  const day = int32At(b, s + 8);
  const month = int32At(b, s + 12);
  // PostgreSQL 17's infinities: every field at its maximum or minimum.
  if (month === 0x7fff_ffff && day === 0x7fff_ffff && isInt64Max(b, s)) return 'infinity';
  if (month === -0x8000_0000 && day === -0x8000_0000 && isInt64Min(b, s)) return '-infinity';
  const floorSec = secondsAt(b, s);
  const negative = floorSec < 0;
  // Fields are truncated toward zero, all with the sign of the time.
  const absSec = !negative ? floorSec : splitMicros > 0 ? -floorSec - 1 : -floorSec;
  const absUs = !negative || splitMicros === 0 ? splitMicros : 1e6 - splitMicros;
  const year = Math.trunc(month / 12);
  const mon = month - year * 12;
  let out = '';
  let before = false;
  let zero = true;
  for (let i = 0; i < 3; i++) {
    const value = i === 0 ? year : i === 1 ? mon : day;
    if (value === 0) continue;
    const unit = i === 0 ? ' year' : i === 1 ? ' mon' : ' day';
    out +=
      (zero ? '' : ' ') +
      (before && value > 0 ? '+' : '') +
      value +
      unit +
      (value !== 1 ? 's' : '');
    before = value < 0;
    zero = false;
  }
  if (zero || absSec !== 0 || absUs !== 0) {
    const h = Math.floor(absSec / 3600);
    const rest = absSec - h * 3600;
    const m = Math.floor(rest / 60);
    out +=
      (zero ? '' : ' ') +
      (negative ? '-' : before ? '+' : '') +
      pad2(h) +
      ':' +
      pad2(m) +
      ':' +
      pad2(rest - m * 60) +
      fraction(absUs);
  }
  return out;
};

/**
 * UTC offsets of one IANA zone, from Intl. Offsets are cached per UTC hour
 * (values cluster in time); an hour holding a transition keeps the second
 * it happens at. Two transitions within one hour are not seen.
 */
export class ZoneOffsets {
  private readonly format: Intl.DateTimeFormat;
  private readonly hours = new Map<
    number,
    number | { before: number; after: number; at: number }
  >();

  constructor(timeZone: string) {
    this.format = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
  }

  /** Seconds east of UTC at `unix` seconds. */
  offsetAt(unix: number): number {
    const hour = Math.floor(unix / 3600);
    let e = this.hours.get(hour);
    if (e === undefined) {
      e = this.hourEntry(hour * 3600);
      if (this.hours.size >= 8192) this.hours.clear();
      this.hours.set(hour, e);
    }
    if (typeof e === 'number') return e;
    return unix < e.at ? e.before : e.after;
  }

  private hourEntry(start: number): number | { before: number; after: number; at: number } {
    const before = this.raw(start);
    const after = this.raw(start + 3599);
    if (before === after) return before;
    let lo = start;
    let hi = start + 3599;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.raw(mid) === before) lo = mid;
      else hi = mid;
    }
    return { before, after, at: hi };
  }

  private raw(unix: number): number {
    // Past JavaScript's Date range (year 275760) the zone repeats its last
    // rule every 400 years, as PostgreSQL's own tz code assumes.
    while (unix > 8_000_000_000_000) unix -= 12_622_780_800;
    const parts = this.format.formatToParts(unix * 1000);
    for (const part of parts) {
      if (part.type !== 'timeZoneName') continue;
      const m = /^GMT(?:([+-])(\d{1,2})(?::(\d\d))?(?::(\d\d))?)?$/.exec(part.value);
      if (m === null) break;
      if (m[1] === undefined) return 0;
      const sec = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
      return m[1] === '-' ? -sec : sec;
    }
    throw new PgoutputError(
      'invalid_argument',
      `Intl printed no UTC offset for ${new Date(unix * 1000).toISOString()} in ${this.format.resolvedOptions().timeZone}`,
    );
  }
}
