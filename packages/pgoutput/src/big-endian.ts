/**
 * Big-endian reads at a byte position, with no cursor and no bounds check:
 * the callers (`BufferReader`, the lazy views) check the bounds first.
 */

const TWO_32 = 0x1_0000_0000;
/** A high word below this keeps `hi * 2^32 + lo` under 2^53, exact as a float. */
const SAFE_HI = 0x20_0000;

/** Unsigned 32-bit at `p`. */
export function uint32At(b: Uint8Array, p: number): number {
  return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}

/** Signed 32-bit at `p`. */
export function int32At(b: Uint8Array, p: number): number {
  return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
}

/** Unsigned 16-bit at `p`. */
export function uint16At(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

/** Signed 16-bit at `p`. */
export function int16At(b: Uint8Array, p: number): number {
  return (((b[p]! << 8) | b[p + 1]!) << 16) >> 16;
}

/**
 * Unsigned 64-bit at `p` (LSNs). Below 2^53 (every LSN a server reaches in
 * practice) one exact float makes the bigint: no DataView and no bigint
 * arithmetic, which cost a fifth of decoding a small message.
 */
export function uint64At(b: Uint8Array, p: number): bigint {
  const hi = uint32At(b, p);
  const lo = uint32At(b, p + 4);
  if (hi < SAFE_HI) return BigInt(hi * TWO_32 + lo);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Signed 64-bit at `p` (timestamps: microseconds since 2000-01-01, `infinity` = int64 max). */
export function int64At(b: Uint8Array, p: number): bigint {
  const hi = int32At(b, p);
  const lo = uint32At(b, p + 4);
  if (hi < SAFE_HI && hi >= -SAFE_HI) return BigInt(hi * TWO_32 + lo);
  return BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo));
}
