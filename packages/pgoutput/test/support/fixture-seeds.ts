import { PgoutputDecoder } from '../../src/index.js';
import { loadFixtures } from './fixtures.js';
import { bytes } from './frame-builder.js';

export interface Seed {
  data: Uint8Array;
  protoVersion: 1 | 2 | 3 | 4;
  inStream: boolean;
}

/** Real payloads from the fixtures, with the protocol version and stream state they were decoded in. */
export function fixtureSeeds(): Seed[] {
  const out: Seed[] = [];
  const seen = new Set<string>();
  for (const fx of loadFixtures()) {
    const d = new PgoutputDecoder({ protoVersion: fx.protoVersion });
    for (const p of fx.payloads) {
      const key = `${fx.protoVersion}:${d.inStreamBlock}:${p[0]}:${p.length}`;
      // Thousands of streamed inserts look alike: keep a few of each shape.
      if (!seen.has(key)) {
        seen.add(key);
        out.push({ data: p, protoVersion: fx.protoVersion, inStream: d.inStreamBlock });
      }
      d.decode(p);
    }
  }
  return out;
}

/** A Stream Start message: puts a decoder (or view) inside a stream block. */
export const STREAM_START = bytes().byte('S').uint32(1).byte(1).build();
