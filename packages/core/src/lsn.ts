/**
 * LSN text at the edges (SQL, logs, JSON). Inside, an LSN is an unsigned
 * 64-bit `bigint`. `@kuvasz/pgoutput` keeps its own copy: it imports nothing.
 */

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
const MAX_LSN = 0xffff_ffff_ffff_ffffn;

/** A value is not an LSN: text not in `X/Y` form, or a number outside 0..2^64-1. */
export class LsnError extends Error {
  override readonly name = 'LsnError';
  readonly code = 'invalid_lsn';
  /** The rejected input, as given. */
  readonly input: unknown;

  constructor(input: unknown, message: string) {
    super(message);
    this.input = input;
  }
}

/** Parses PostgreSQL's `X/Y` text (`16/B374D848`, zero-padded or not) into a bigint. */
export function parseLsn(text: string): bigint {
  const m = typeof text === 'string' ? LSN_TEXT.exec(text) : null;
  if (m === null) {
    throw new LsnError(
      text,
      `LSN ${JSON.stringify(String(text)).slice(0, 40)} is not in PostgreSQL's X/Y form (two hex numbers of 1-8 digits, e.g. 16/B374D848)`,
    );
  }
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Formats an LSN as PostgreSQL prints it: upper-case hex, `X/Y`, no padding. */
export function formatLsn(lsn: bigint): string {
  if (typeof lsn !== 'bigint' || lsn < 0n || lsn > MAX_LSN) {
    throw new LsnError(
      lsn,
      `${String(lsn)} is not an LSN; expected a bigint from 0 to 2^64-1 (use parseLsn for X/Y text)`,
    );
  }
  const hi = Number(lsn >> 32n);
  const lo = Number(lsn & 0xffff_ffffn);
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}
