/**
 * Every fixture message, framed as the walsender frames it (CopyData around
 * XLogData), cut at every offset and reassembled, decodes to the same value;
 * and every strict prefix of a message is refused as 'truncated'.
 */
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, test } from 'vitest';
import {
  CopyDataAssembler,
  PgoutputDecodeError,
  PgoutputDecoder,
  parseLsn,
  parseReplicationFrame,
} from '../src/index.js';
import { loadFixtures } from './support/fixtures.js';
import { bytes, copyData, xlogData } from './support/frame-builder.js';

const fixtures = loadFixtures();
const byFile = fixtures.map((f) => [f.file, f] as const);

/** The PgoutputDecodeError `fn` throws, undefined if it returns; anything else is rethrown. */
function decodeError(fn: () => unknown): PgoutputDecodeError | undefined {
  try {
    fn();
  } catch (err: unknown) {
    if (err instanceof PgoutputDecodeError) return err;
    throw err;
  }
  return undefined;
}

describe.each(byFile)('%s', (_file, fx) => {
  const frames = fx.payloads.map((p, i) => {
    const lsn = parseLsn(fx.changes[i]!.lsn);
    return copyData(xlogData(lsn, lsn + 8n, BigInt(i), p));
  });

  test('each message cut at every offset reassembles and decodes the same', () => {
    const direct = new PgoutputDecoder({ protoVersion: fx.protoVersion });
    const viaWire = new PgoutputDecoder({ protoVersion: fx.protoVersion });
    const asm = new CopyDataAssembler();
    const failures: string[] = [];
    let decodedCuts = 0;
    fx.payloads.forEach((payload, i) => {
      const expected = direct.decode(payload);
      const frame = frames[i]!;
      const inner = frame.subarray(5);
      for (let cut = 0; cut <= frame.length; cut++) {
        const got = [...asm.push(frame.subarray(0, cut)), ...asm.push(frame.subarray(cut))];
        if (got.length !== 1 || !Buffer.from(got[0]!).equals(inner)) {
          failures.push(`message ${i} cut at ${cut}: reassembled bytes differ`);
          continue;
        }
        // Decoding is a pure function of the bytes (and the stream state), so the
        // bytes' identity proves the rest; still decode every cut of small frames.
        if (cut === frame.length || frame.length <= 256) {
          const x = parseReplicationFrame(got[0]!);
          if (x.tag !== 'xlogdata' || x.walStart !== parseLsn(fx.changes[i]!.lsn)) {
            failures.push(`message ${i} cut at ${cut}: bad XLogData header`);
            continue;
          }
          const scratch = new PgoutputDecoder({ protoVersion: fx.protoVersion });
          if (viaWire.inStreamBlock) scratch.decode(bytes().byte('S').uint32(1).byte(1).build());
          const decoded = cut === frame.length ? viaWire.decode(x.data) : scratch.decode(x.data);
          if (!isDeepStrictEqual(decoded, expected))
            failures.push(`message ${i} cut at ${cut}: decoded differently`);
          decodedCuts++;
        }
      }
      if (asm.bufferedBytes !== 0) failures.push(`message ${i}: bytes left in the assembler`);
    });
    expect(failures).toEqual([]);
    expect(decodedCuts).toBeGreaterThan(fx.payloads.length);
    asm.finish();
  });

  test('the whole stream in small random chunks reassembles in order', () => {
    const stream = Buffer.concat(frames);
    const asm = new CopyDataAssembler();
    const out: Uint8Array[] = [];
    let seed = 12345;
    for (let pos = 0; pos < stream.length; ) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const n = 1 + (seed % 97);
      out.push(...asm.push(stream.subarray(pos, pos + n)));
      pos += n;
    }
    asm.finish();
    expect(out.length).toBe(fx.payloads.length);
    out.forEach((payload, i) => {
      const x = parseReplicationFrame(payload);
      expect(x.tag === 'xlogdata' && Buffer.from(x.data).equals(fx.payloads[i]!)).toBe(true);
    });
  });

  test("every strict prefix of every message is 'truncated', and leaves the decoder's state alone", () => {
    const d = new PgoutputDecoder({ protoVersion: fx.protoVersion });
    const failures: string[] = [];
    let checked = 0;
    fx.payloads.forEach((payload, i) => {
      const state = d.inStreamBlock;
      for (let n = 0; n < payload.length; n++) {
        const prefix = payload.subarray(0, n);
        // v4 Stream Abort: the abort LSN and time are optional (only with streaming = parallel),
        // so the 9-byte prefix is itself a complete message.
        if (fx.protoVersion >= 4 && payload[0] === 0x41 && n === 9) {
          expect(d.decode(prefix)).toMatchObject({ tag: 'stream_abort', abortLsn: undefined });
          continue;
        }
        const err = decodeError(() => d.decode(prefix));
        if (err?.code !== 'truncated' || err.offset > n || err.protoVersion !== fx.protoVersion) {
          failures.push(
            `message ${i}, ${n}-byte prefix: ${err?.message ?? 'decoded without error'}`,
          );
        }
        if (d.inStreamBlock !== state)
          failures.push(`message ${i}, ${n}-byte prefix: state changed`);
        checked++;
      }
      d.decode(payload);
    });
    expect(failures.slice(0, 5)).toEqual([]);
    expect(checked).toBeGreaterThan(fx.payloads.length);
  });
});
