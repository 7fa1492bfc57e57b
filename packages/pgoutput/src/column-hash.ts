/** FNV-1a's 32-bit offset basis: the seed of a first (or only) key column. */
export const HASH_SEED = 0x811c_9dc5;
const FNV_PRIME = 0x0100_0193;

/**
 * A 32-bit hash of bytes `start` to `end`: FNV-1a, then murmur3's final mix
 * so that low bits spread well when a caller routes by `hash % n`. Not
 * cryptographic; the same bytes and seed give the same value in every
 * process, so it may be used to route rows. Chain columns by passing one
 * column's hash as the next one's seed. `TupleView.hashColumn` hashes a
 * column's value bytes with it, so the hash of a key held as a string is
 * `hashBytes(new TextEncoder().encode(key))`.
 */
export function hashBytes(
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
  seed: number = HASH_SEED,
): number {
  let h = seed | 0;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME);
  return finalMix(h);
}

/** The hash of a column without value bytes (NULL, unchanged TOAST): its kind byte, mixed. */
export function hashKind(kind: number, seed: number = HASH_SEED): number {
  return finalMix(Math.imul((seed | 0) ^ kind, FNV_PRIME) ^ 0x5bd1_e995);
}

function finalMix(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85eb_ca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2_ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
