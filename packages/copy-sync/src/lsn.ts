import { CopySyncError } from './errors.js';

/** Parses `X/Y` (pg_lsn text) into a bigint. */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!m?.[1] || !m[2]) {
    throw new CopySyncError('invalid_options', `'${text}' is not an LSN; expected the X/Y form`);
  }
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Formats a bigint LSN as `X/Y`, the form PostgreSQL prints. */
export function formatLsn(lsn: bigint): string {
  if (lsn < 0n || lsn > 0xffffffffffffffffn) {
    throw new CopySyncError('invalid_options', `LSN ${lsn} is out of range (0 to 2^64-1)`);
  }
  const hi = (lsn >> 32n).toString(16).toUpperCase();
  const lo = (lsn & 0xffffffffn).toString(16).toUpperCase();
  return `${hi}/${lo}`;
}
