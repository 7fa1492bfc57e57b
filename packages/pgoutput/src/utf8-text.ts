const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const fromCharCode = String.fromCharCode;
// Node's native slice beats TextDecoder by ~2x on short strings; other runtimes fall back.
const latin1Slice: ((this: Uint8Array, start: number, end: number) => string) | undefined = (
  globalThis as { Buffer?: { prototype: { latin1Slice?: never } } }
).Buffer?.prototype.latin1Slice;

/**
 * Bytes `start` to `end` of `b` as a string. Invalid UTF-8 throws
 * `TextDecoder`'s TypeError, which the caller wraps in its own error (with
 * its offset and message tag). A leading U+FEFF is data, not a byte-order mark.
 */
export function utf8Text(b: Uint8Array, start: number, end: number): string {
  let bits = 0;
  for (let i = start; i < end; i++) bits |= b[i]!;
  if (bits < 0x80) {
    const n = end - start;
    // Short ASCII strings: one fromCharCode call of the exact arity avoids
    // a native call and the intermediate strings of appending (3x faster
    // for a 6-digit integer).
    if (n <= 8) return shortAscii(b, start, n);
    if (n <= 16) return shortAscii(b, start, 8) + shortAscii(b, start + 8, n - 8);
    if (latin1Slice !== undefined) return latin1Slice.call(b, start, end);
  }
  return utf8.decode(b.subarray(start, end));
}

/** `n` (0 to 8) ASCII bytes from `s` as a string, in one call. */
function shortAscii(b: Uint8Array, s: number, n: number): string {
  switch (n) {
    case 0:
      return '';
    case 1:
      return fromCharCode(b[s]!);
    case 2:
      return fromCharCode(b[s]!, b[s + 1]!);
    case 3:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!);
    case 4:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!);
    case 5:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!);
    case 6:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!);
    case 7:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!);
    default:
      return fromCharCode(
        b[s]!,
        b[s + 1]!,
        b[s + 2]!,
        b[s + 3]!,
        b[s + 4]!,
        b[s + 5]!,
        b[s + 6]!,
        b[s + 7]!,
      );
  }
}
