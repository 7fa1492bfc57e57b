/**
 * Property-based tests (fast-check). PGOUTPUT_FUZZ_RUNS sets the number of
 * cases per property (default 3,000 for CI; the README reports a 100,000 run).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  CopyDataAssembler,
  PgoutputDecodeError,
  PgoutputDecoder,
  parseReplicationFrame,
} from '../src/index.js';
import { builtMessage, mutate, mutation } from './support/arbitraries.js';
import { fixtureSeeds, STREAM_START } from './support/fixture-seeds.js';
import { bytes, copyData, xlogData } from './support/frame-builder.js';

const RUNS = Number(process.env.PGOUTPUT_FUZZ_RUNS ?? 3000);
const TIMEOUT = Math.max(60_000, RUNS * 5);

const seeds = fixtureSeeds();

function decoderFor(protoVersion: 1 | 2 | 3 | 4, inStream: boolean): PgoutputDecoder {
  const d = new PgoutputDecoder({ protoVersion });
  if (inStream) d.decode(STREAM_START);
  return d;
}

/** Runs `fn`; only a PgoutputDecodeError may escape it. */
function onlyDecodeErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err: unknown) {
    if (!(err instanceof PgoutputDecodeError)) throw err;
    expect(typeof err.code).toBe('string');
    expect(err.offset).toBeGreaterThanOrEqual(0);
  }
}

describe('fuzz', () => {
  test(
    'valid generated messages round-trip through an independent builder',
    () => {
      fc.assert(
        fc.property(builtMessage, (m) => {
          expect(decoderFor(m.protoVersion, m.inStream).decode(m.data)).toEqual(m.expected);
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );

  test(
    'cut and mutated messages (fixtures and generated) only ever throw PgoutputDecodeError',
    () => {
      const seed = fc.oneof(
        fc.constantFrom(...seeds),
        builtMessage.map((m) => ({
          data: m.data,
          protoVersion: m.protoVersion,
          inStream: m.inStream,
        })),
      );
      fc.assert(
        fc.property(
          seed,
          fc.array(mutation, { minLength: 1, maxLength: 4 }),
          fc.constantFrom(1 as const, 2 as const, 3 as const, 4 as const),
          fc.boolean(),
          (s, muts, otherVersion, useOther) => {
            const data = mutate(s.data, muts);
            const version = useOther ? otherVersion : s.protoVersion;
            const d = decoderFor(version, s.inStream && version >= 2);
            const before = d.inStreamBlock;
            try {
              const msg = d.decode(data);
              expect(typeof msg.tag).toBe('string');
            } catch (err: unknown) {
              if (!(err instanceof PgoutputDecodeError)) throw err;
              expect(err.offset).toBeGreaterThanOrEqual(0);
              expect(err.offset).toBeLessThanOrEqual(data.length);
              expect(d.inStreamBlock).toBe(before);
            }
          },
        ),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );

  test(
    'mutated replication frames and CopyData streams only ever throw PgoutputDecodeError',
    () => {
      const frame = fc.oneof(
        fc.constantFrom(...seeds).map((s) => xlogData(1n, 2n, 3n, s.data)),
        fc.constant(bytes().byte('k').uint64(5n).int64(6n).byte(1).build()),
      );
      fc.assert(
        fc.property(
          fc.array(frame, { minLength: 1, maxLength: 4 }),
          fc.array(mutation, { maxLength: 3 }),
          fc.array(fc.nat({ max: 200 }), { maxLength: 6 }),
          (frames, muts, cuts) => {
            for (const f of frames) onlyDecodeErrors(() => parseReplicationFrame(mutate(f, muts)));
            const stream = mutate(Buffer.concat(frames.map(copyData)), muts);
            const asm = new CopyDataAssembler({ maxMessageBytes: 1 << 20 });
            onlyDecodeErrors(() => {
              let pos = 0;
              for (const c of [...cuts, stream.length]) {
                for (const payload of asm.push(stream.subarray(pos, pos + c))) {
                  onlyDecodeErrors(() => parseReplicationFrame(payload));
                }
                pos += c;
              }
              asm.push(stream.subarray(pos));
              asm.finish();
            });
          },
        ),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );
});
