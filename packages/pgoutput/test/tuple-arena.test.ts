/**
 * TupleArena against the object decoder: every tuple of every golden frame
 * and of generated messages, copied into a small arena (so chunks fill and
 * roll over), reads back as the decoder's values; tuples added earlier stay
 * intact while later ones are added.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  ARENA_NULL,
  ARENA_UNCHANGED,
  type ArenaTuple,
  arenaValues,
  MessageTag,
  MessageView,
  PgoutputDecoder,
  TupleArena,
  type TupleValue,
  type TupleView,
  UNCHANGED_TOAST,
} from '../src/index.js';
import { builtMessage } from './support/arbitraries.js';
import { loadFixtures } from './support/fixtures.js';

const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function read(t: ArenaTuple): TupleValue[] {
  const out: TupleValue[] = [];
  for (let i = 0; i < t.count; i++) {
    const start = t.offsets[t.at + 2 * i]!;
    if (start === ARENA_NULL) out.push(null);
    else if (start === ARENA_UNCHANGED) out.push(UNCHANGED_TOAST);
    else out.push(text.decode(t.bytes.subarray(start, start + t.offsets[t.at + 2 * i + 1]!)));
  }
  return out;
}

/** A stand-in decoder: the arena only carries decoders, it never calls them. */
const hexOf = (b: Uint8Array, start: number, length: number) =>
  Buffer.from(b.subarray(start, start + length)).toString('hex');

interface Kept {
  tuple: ArenaTuple;
  expected: TupleValue[];
}

/** Feeds one message to both; keeps what the arena made of its tuples with the decoder's values. */
function feed(
  d: PgoutputDecoder,
  v: MessageView,
  arena: TupleArena,
  data: Uint8Array,
  kept: Kept[],
) {
  const m = d.decode(data);
  const tag = v.reset(data);
  if (tag !== MessageTag.Insert && tag !== MessageTag.Update && tag !== MessageTag.Delete) return;
  const pairs: [TupleView, TupleValue[] | undefined][] = [
    [v.newTuple, 'new' in m ? (m.new as TupleValue[] | undefined) : undefined],
    [v.oldTuple, 'key' in m ? ((m.key ?? m.old) as TupleValue[] | undefined) : undefined],
  ];
  for (const [view, expected] of pairs) {
    if (!expected) continue;
    const binary = expected.some((x) => x instanceof Uint8Array);
    const textual = expected.some((x) => typeof x === 'string');
    // Only NULLs and unchanged values: either format takes it.
    if (!binary && !textual) {
      expect(
        arena.add(
          view,
          expected.map(() => hexOf),
        ),
      ).toBeDefined();
      kept.push({ tuple: arena.add(view)!, expected });
      continue;
    }
    // A tuple is taken in the format asked for, never in the other one.
    const decoders = expected.map(() => hexOf);
    expect(binary ? arena.add(view) : arena.add(view, decoders)).toBeUndefined();
    const tuple = binary ? arena.add(view, decoders) : arena.add(view);
    if (binary && textual) {
      expect(tuple).toBeUndefined();
      continue;
    }
    expect(tuple).toBeDefined();
    expect(tuple!.binary).toBe(binary ? decoders : undefined);
    kept.push({ tuple: tuple!, expected });
  }
}

describe('TupleArena', () => {
  test('every tuple of every golden frame reads back as the decoder decoded it, after later adds too', () => {
    const kept: Kept[] = [];
    const arena = new TupleArena(256);
    for (const fx of loadFixtures()) {
      const d = new PgoutputDecoder({ protoVersion: fx.protoVersion });
      const v = new MessageView({ protoVersion: fx.protoVersion });
      for (const p of fx.payloads) feed(d, v, arena, p, kept);
    }
    expect(kept.length).toBeGreaterThan(200);
    expect(kept.some((k) => k.tuple.binary !== undefined)).toBe(true);
    for (const k of kept)
      expect(k.tuple.binary ? arenaValues(k.tuple) : read(k.tuple)).toEqual(k.expected);
    for (const k of kept) expect(arenaValues(k.tuple)).toEqual(k.expected);
  });

  test("arenaValues refuses invalid UTF-8 with the decoder's error code", () => {
    const t = {
      bytes: new Uint8Array([0x61, 0xff]),
      offsets: new Int32Array([0, 2]),
      at: 0,
      count: 1,
    };
    expect(() => arenaValues(t)).toThrow(expect.objectContaining({ code: 'invalid_utf8' }));
  });

  test('generated messages', () => {
    fc.assert(
      fc.property(
        fc.array(builtMessage, { maxLength: 20 }),
        fc.integer({ min: 64, max: 4096 }),
        (ms, size) => {
          const arena = new TupleArena(size);
          const kept: Kept[] = [];
          for (const m of ms) {
            const d = new PgoutputDecoder({ protoVersion: m.protoVersion });
            const v = new MessageView({ protoVersion: m.protoVersion });
            if (m.inStream) continue;
            feed(d, v, arena, m.data, kept);
          }
          for (const k of kept)
            expect(k.tuple.binary ? arenaValues(k.tuple) : read(k.tuple)).toEqual(k.expected);
        },
      ),
      { numRuns: 500, seed: 7 },
    );
  });

  test('a tuple larger than a chunk gets a chunk of its own', () => {
    const arena = new TupleArena(64);
    const d = new PgoutputDecoder();
    const v = new MessageView();
    const big = 'x'.repeat(1000);
    const value = new TextEncoder().encode(big);
    // Insert: 'I', relation OID, 'N', 2 columns: 't' len value, 'n'.
    const msg = new Uint8Array(1 + 4 + 1 + 2 + 1 + 4 + value.length + 1);
    const dv = new DataView(msg.buffer);
    msg[0] = 0x49;
    dv.setUint32(1, 16384);
    msg[5] = 0x4e;
    dv.setInt16(6, 2);
    msg[8] = 0x74;
    dv.setInt32(9, value.length);
    msg.set(value, 13);
    msg[13 + value.length] = 0x6e;
    const kept: Kept[] = [];
    feed(d, v, arena, msg, kept);
    expect(kept).toHaveLength(1);
    expect(read(kept[0]!.tuple)).toEqual([big, null]);
  });

  test('refuses a chunk size that cannot hold anything', () => {
    expect(() => new TupleArena(8)).toThrow(/chunkBytes/);
  });
});
