/** What the binary-to-text decoders share: the error they throw, their bounds checks, zero padding. */
import { PgoutputError } from './errors.js';

export function invalid(type: string, detail: string, cause?: unknown): PgoutputError {
  return new PgoutputError(
    'invalid_value',
    `binary ${type} value ${detail}`,
    cause === undefined ? undefined : { cause },
  );
}

export function checkRange(type: string, b: Uint8Array, start: number, length: number): void {
  if (!(start >= 0 && length >= 0 && start + length <= b.length)) {
    throw invalid(
      type,
      `at ${start} with length ${length} lies outside its ${b.length}-byte buffer`,
    );
  }
}

export function checkLength(
  type: string,
  b: Uint8Array,
  start: number,
  length: number,
  want: number,
): void {
  if (length !== want) throw invalid(type, `has ${length} bytes; expected ${want}`);
  checkRange(type, b, start, length);
}

export function pad2(n: number): string {
  return n < 10 ? '0' + n : '' + n;
}

export function pad4(n: number): string {
  return n < 10 ? '000' + n : n < 100 ? '00' + n : n < 1000 ? '0' + n : '' + n;
}
