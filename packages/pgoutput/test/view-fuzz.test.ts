/**
 * The lazy MessageView against the object decoder, message by message: on
 * every golden frame, on generated messages, and on cut, mutated and random
 * bytes, both must give the same message (every field and value, read back
 * through the view's accessors) or the same error (class, code, tag, offset,
 * message), and keep the same stream state. PGOUTPUT_FUZZ_RUNS sets the
 * cases per property (default 3,000), PGOUTPUT_FUZZ_SEED the PRNG seed.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  ColumnKind,
  PgoutputDecoder as Decoder,
  MessageView,
  type PgoutputDecoder,
  PgoutputError,
  type PgoutputMessage,
  XLOGDATA_HEADER_BYTES,
} from '../src/index.js';
import { builtMessage, mutate, mutation } from './support/arbitraries.js';
import { fixtureSeeds, STREAM_START } from './support/fixture-seeds.js';
import { loadFixtures } from './support/fixtures.js';
import { xlogData } from './support/frame-builder.js';
import { viewAsMessage } from './support/view-as-message.js';

const RUNS = Number(process.env.PGOUTPUT_FUZZ_RUNS ?? 3000);
const SEED = Number(process.env.PGOUTPUT_FUZZ_SEED ?? 14);
const TIMEOUT = Math.max(60_000, RUNS * 10);
const params = { numRuns: RUNS, seed: SEED };
type Version = 1 | 2 | 3 | 4;

/** How the view is pointed at a message: alone, inside a larger buffer, or inside an XLogData frame. */
interface Placement {
  mode: 'bare' | 'padded' | 'frame';
  before: number;
  after: number;
}
const placement: fc.Arbitrary<Placement> = fc.record({
  mode: fc.constantFrom('bare' as const, 'padded' as const, 'frame' as const),
  before: fc.nat({ max: 40 }),
  after: fc.nat({ max: 40 }),
});
const BARE: Placement = { mode: 'bare', before: 0, after: 0 };
const WAL_START = 0x16_b374_d848n;

type Outcome =
  | { ok: PgoutputMessage; inStream: boolean }
  | { error: Record<string, unknown>; inStream: boolean };

function errorOf(err: unknown): Record<string, unknown> {
  // Anything but this package's errors is a bug in itself: let it fail the test.
  if (!(err instanceof PgoutputError)) throw err;
  const e = err as PgoutputError & { tag?: string; offset?: number; protoVersion?: number };
  return {
    name: e.name,
    code: e.code,
    tag: e.tag,
    offset: e.offset,
    protoVersion: e.protoVersion,
    message: e.message,
  };
}

function viaDecoder(d: PgoutputDecoder, data: Uint8Array): Outcome {
  try {
    return { ok: d.decode(data), inStream: d.inStreamBlock };
  } catch (err: unknown) {
    return { error: errorOf(err), inStream: d.inStreamBlock };
  }
}

function viaView(v: MessageView, data: Uint8Array, at: Placement): Outcome {
  // Bytes around the message that the view must not read: 0xff is no valid tag, kind or marker.
  const buf = new Uint8Array(at.before + XLOGDATA_HEADER_BYTES + data.length + at.after).fill(0xff);
  try {
    if (at.mode === 'bare') {
      v.reset(data);
    } else if (at.mode === 'padded') {
      buf.set(data, at.before);
      v.reset(buf, at.before, data.length);
    } else {
      const frame = xlogData(WAL_START, WAL_START + 7n, 42n, data);
      buf.set(frame, at.before);
      expect(v.resetFrame(buf, at.before, frame.length)).toBe(data[0]);
      expect(v.walStart).toBe(WAL_START);
    }
    const msg = viewAsMessage(v);
    if (v.tag !== 0) checkOffsets(v, msg);
    return { ok: msg, inStream: v.inStreamBlock };
  } catch (err: unknown) {
    return { error: errorOf(err), inStream: v.inStreamBlock };
  }
}

/** Each text column's offset and length are exactly its UTF-8 bytes; each binary one its bytes. */
function checkOffsets(v: MessageView, msg: PgoutputMessage): void {
  const pairs =
    msg.tag === 'insert'
      ? [[v.newTuple, msg.new] as const]
      : msg.tag === 'update'
        ? [[v.newTuple, msg.new] as const, [v.oldTuple, msg.key ?? msg.old] as const]
        : msg.tag === 'delete'
          ? [[v.oldTuple, msg.key ?? msg.old] as const]
          : [];
  for (const [t, values] of pairs) {
    if (values === undefined) continue;
    expect(t.count).toBe(values.length);
    values.forEach((val, i) => {
      const b = t.buffer.subarray(t.offset(i), t.offset(i) + t.length(i));
      if (typeof val === 'string') {
        expect(Buffer.from(b).equals(Buffer.from(val, 'utf8'))).toBe(true);
        expect(t.text(i)).toBe(val);
      } else if (val instanceof Uint8Array) {
        expect(t.kind(i)).toBe(ColumnKind.Binary);
        expect(Buffer.from(b).equals(Buffer.from(val))).toBe(true);
      } else {
        expect(t.length(i)).toBe(0);
      }
    });
  }
}

function pair(protoVersion: Version, inStream: boolean): { d: PgoutputDecoder; v: MessageView } {
  const d = new Decoder({ protoVersion });
  const v = new MessageView({ protoVersion });
  if (inStream) {
    d.decode(STREAM_START);
    v.reset(STREAM_START);
  }
  return { d, v };
}

/** Decoder and view on the same bytes give the same outcome. */
function same(d: PgoutputDecoder, v: MessageView, data: Uint8Array, at: Placement): void {
  const expected = viaDecoder(d, data);
  expect(viaView(v, data, at)).toEqual(expected);
}

const seeds = fixtureSeeds();
const anySeed = fc.oneof(
  fc.constantFrom(...seeds),
  builtMessage.map((m) => ({ data: m.data, protoVersion: m.protoVersion, inStream: m.inStream })),
);
/** A seed cut or damaged, sometimes read with another protocol version. */
const damaged = fc
  .tuple(
    anySeed,
    fc.array(mutation, { minLength: 1, maxLength: 4 }),
    fc.option(fc.constantFrom<Version>(1, 2, 3, 4)),
  )
  .map(([s, muts, other]) => {
    const protoVersion = other ?? s.protoVersion;
    return { data: mutate(s.data, muts), protoVersion, inStream: s.inStream && protoVersion >= 2 };
  });
const TAGS = [...'BCOYRIUDTMSEcAbPKrp'].map((c) => c.charCodeAt(0));

describe('MessageView against PgoutputDecoder', () => {
  test('every golden frame, in order, bare, inside a buffer and inside an XLogData frame', () => {
    let messages = 0;
    for (const fx of loadFixtures()) {
      for (const at of [
        BARE,
        { mode: 'padded', before: 3, after: 5 },
        { ...BARE, mode: 'frame' },
      ]) {
        const d = new Decoder({ protoVersion: fx.protoVersion });
        const v = new MessageView({ protoVersion: fx.protoVersion });
        for (const p of fx.payloads) {
          const expected = viaDecoder(d, p);
          expect('ok' in expected, fx.file).toBe(true);
          expect(viaView(v, p, at as Placement)).toEqual(expected);
          messages++;
        }
      }
    }
    expect(messages).toBeGreaterThan(1000);
  });

  test(
    'generated messages of every kind',
    () => {
      fc.assert(
        fc.property(builtMessage, placement, (m, at) => {
          const { d, v } = pair(m.protoVersion, m.inStream);
          same(d, v, m.data, at);
          expect(viaView(v, m.data, BARE)).toEqual({ ok: m.expected, inStream: d.inStreamBlock });
        }),
        params,
      );
    },
    TIMEOUT,
  );

  test(
    'cut and mutated messages (fixtures and generated): the same error or the same message',
    () => {
      fc.assert(
        fc.property(damaged, placement, (s, at) => {
          const { d, v } = pair(s.protoVersion, s.inStream);
          same(d, v, s.data, at);
        }),
        params,
      );
    },
    TIMEOUT,
  );

  test(
    'random bytes after a known tag',
    () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...TAGS, 0, 0x77, 0xff),
          fc.uint8Array({ maxLength: 64 }),
          fc.constantFrom<Version>(1, 2, 3, 4),
          fc.boolean(),
          placement,
          (tag, rest, protoVersion, inStream, at) => {
            const { d, v } = pair(protoVersion, inStream && protoVersion >= 2);
            same(d, v, new Uint8Array([tag, ...rest]), at);
          },
        ),
        params,
      );
    },
    TIMEOUT,
  );

  test(
    'sequences of good and bad messages keep the same stream state',
    () => {
      const step = fc.oneof(
        anySeed.map((s) => s.data),
        damaged.map((s) => s.data),
        fc.constantFrom(STREAM_START, new Uint8Array([0x45])),
      );
      fc.assert(
        fc.property(
          fc.constantFrom<Version>(2, 4),
          fc.array(fc.tuple(step, placement), { minLength: 1, maxLength: 12 }),
          (protoVersion, steps) => {
            const { d, v } = pair(protoVersion, false);
            for (const [data, at] of steps) same(d, v, data, at);
          },
        ),
        { ...params, numRuns: Math.ceil(RUNS / 3) },
      );
    },
    TIMEOUT,
  );
});
