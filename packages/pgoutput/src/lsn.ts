import { PgoutputError } from './errors.js';
import type { Lsn } from './messages.js';

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
export const MAX_LSN: Lsn = 0xffff_ffff_ffff_ffffn;

/** Parses PostgreSQL's `X/Y` text form (`'16/B374D848'`, zero-padded or not) into a bigint. */
export function parseLsn(text: string): Lsn {
  const m = typeof text === 'string' ? LSN_TEXT.exec(text) : null;
  if (m === null) {
    throw new PgoutputError(
      'invalid_lsn',
      `LSN ${JSON.stringify(String(text)).slice(0, 40)} is not in PostgreSQL's X/Y form (two hex numbers of 1-8 digits, e.g. 16/B374D848)`,
    );
  }
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

function checkLsn(lsn: Lsn, what: string): void {
  if (typeof lsn !== 'bigint' || lsn < 0n || lsn > MAX_LSN) {
    throw new PgoutputError(
      'invalid_lsn',
      `${what} ${String(lsn)} is not an LSN; expected a bigint from 0 to 2^64-1`,
    );
  }
}

/** Formats an LSN as PostgreSQL prints it: upper-case hex, `X/Y`, no padding. */
export function formatLsn(lsn: Lsn): string {
  checkLsn(lsn, 'value');
  const hi = Number(lsn >> 32n);
  const lo = Number(lsn & 0xffff_ffffn);
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}

/** Orders two LSNs: -1 when `a` is before `b`, 0 when equal, 1 when after. */
export function compareLsn(a: Lsn, b: Lsn): -1 | 0 | 1 {
  checkLsn(a, 'a');
  checkLsn(b, 'b');
  return a < b ? -1 : a > b ? 1 : 0;
}
