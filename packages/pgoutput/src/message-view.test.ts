import { describe, expect, test } from 'vitest';
import { bytes, TOAST, xlogData } from '../test/support/frame-builder.js';
import { PgoutputDecodeError, PgoutputError } from './errors.js';
import { MessageView } from './message-view.js';
import { ColumnKind, MessageTag, TupleTag } from './tags.js';

const MAX_U64 = 0xffff_ffff_ffff_ffffn;
const MAX_U32 = 0xffff_ffff;

describe('MessageView', () => {
  test('Begin and Commit: high-bit LSNs, negative times and xids read unsigned, on demand', () => {
    const v = new MessageView();
    expect(v.reset(bytes().byte('B').uint64(MAX_U64).int64(-1n).uint32(MAX_U32).build())).toBe(
      MessageTag.Begin,
    );
    expect([v.finalLsn, v.commitTime, v.xid]).toEqual([MAX_U64, -1n, MAX_U32]);
    v.reset(
      bytes()
        .byte('C')
        .byte(0)
        .uint64(0x16_b374_d848n)
        .uint64(MAX_U64)
        .int64(0x7fff_ffff_ffff_ffffn)
        .build(),
    );
    expect(v.tag).toBe(MessageTag.Commit);
    expect([v.flags, v.commitLsn, v.endLsn, v.commitTime, v.xid]).toEqual([
      0,
      0x16_b374_d848n,
      MAX_U64,
      0x7fff_ffff_ffff_ffffn,
      -1,
    ]);
    // A field of another message is a caller's mistake, not a garbage value.
    expect(() => v.finalLsn).toThrow(/finalLsn is a field of Begin; the view is on a 'C' message/);
    expect(() => v.walStart).toThrow(/resetFrame/);
  });

  test('an Update with the old key, then a Delete: tuples and markers of the current message only', () => {
    const v = new MessageView();
    v.reset(
      bytes()
        .byte('U')
        .uint32(MAX_U32)
        .byte('K')
        .tuple(['7', null])
        .byte('N')
        .tuple(['8', 'x', TOAST])
        .build(),
    );
    expect([v.tag, v.relationOid, v.oldMarker, v.xid]).toEqual([
      MessageTag.Update,
      MAX_U32,
      TupleTag.Key,
      -1,
    ]);
    expect([v.oldTuple.count, v.oldTuple.text(0), v.oldTuple.kind(1)]).toEqual([
      2,
      '7',
      ColumnKind.Null,
    ]);
    expect([v.newTuple.count, v.newTuple.text(1), v.newTuple.kind(2)]).toEqual([
      3,
      'x',
      ColumnKind.UnchangedToast,
    ]);
    v.reset(bytes().byte('D').uint32(5).byte('O').tuple(['9']).build());
    expect([v.tag, v.oldMarker, v.oldTuple.text(0), v.newTuple.count]).toEqual([
      MessageTag.Delete,
      TupleTag.Old,
      '9',
      0,
    ]);
    v.reset(bytes().byte('C').byte(0).uint64(1n).uint64(2n).int64(3n).build());
    expect([v.relationOid, v.oldMarker, v.oldTuple.count, v.newTuple.count]).toEqual([0, 0, 0, 0]);
  });

  test('a tuple wider than any before grows the column arrays; narrower ones reuse them', () => {
    const v = new MessageView();
    const wide = Array.from({ length: 1000 }, (_, i) => String(i));
    for (const cols of [['a'], wide, ['b', 'c']]) {
      v.reset(bytes().byte('I').uint32(1).byte('N').tuple(cols).build());
      expect(Array.from({ length: v.newTuple.count }, (_, i) => v.newTuple.text(i))).toEqual(cols);
    }
  });

  test('streaming (v2+): the xid prefix on changes inside a stream block, stream message fields', () => {
    const v = new MessageView({ protoVersion: 4 });
    v.reset(bytes().byte('S').uint32(MAX_U32).byte(1).build());
    expect([v.tag, v.xid, v.firstSegment, v.inStreamBlock]).toEqual([
      MessageTag.StreamStart,
      MAX_U32,
      true,
      true,
    ]);
    v.reset(bytes().byte('I').uint32(700).uint32(16385).byte('N').tuple(['1']).build());
    expect([v.xid, v.relationOid, v.newTuple.text(0)]).toEqual([700, 16385, '1']);
    expect(v.toMessage()).toEqual({ tag: 'insert', xid: 700, relationOid: 16385, new: ['1'] });
    v.reset(bytes().byte('E').build());
    expect(v.inStreamBlock).toBe(false);
    // The same bytes outside a block: no xid, so 700 is the relation and the rest trails.
    expect(() =>
      v.reset(bytes().byte('I').uint32(700).uint32(16385).byte('N').tuple(['1']).build()),
    ).toThrow(PgoutputDecodeError);
    v.reset(bytes().byte('c').uint32(700).byte(0).uint64(10n).uint64(20n).int64(30n).build());
    expect([v.xid, v.flags, v.commitLsn, v.endLsn, v.commitTime]).toEqual([700, 0, 10n, 20n, 30n]);
    v.reset(bytes().byte('A').uint32(700).uint32(701).build());
    expect([v.xid, v.subXid, v.abortLsn, v.abortTime]).toEqual([700, 701, undefined, undefined]);
    v.reset(bytes().byte('A').uint32(700).uint32(700).uint64(MAX_U64).int64(-5n).build());
    expect([v.subXid, v.abortLsn, v.abortTime]).toEqual([700, MAX_U64, -5n]);
    v.reset(bytes().byte('S').uint32(1).byte(0).build());
    v.clearStreamState();
    expect(v.inStreamBlock).toBe(false);
  });

  test('a stream message below protocol v2 is refused as the decoder refuses it', () => {
    const v = new MessageView({ protoVersion: 1 });
    const err = (() => {
      try {
        v.reset(bytes().byte('S').uint32(1).byte(1).build());
      } catch (e: unknown) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(PgoutputDecodeError);
    expect(err).toMatchObject({ code: 'protocol_version', tag: 'S', offset: 0 });
    expect(v.tag).toBe(0);
    expect(v.inStreamBlock).toBe(false);
  });

  test('rare messages are decoded by the object decoder at reset', () => {
    const v = new MessageView();
    const relation = bytes()
      .byte('R')
      .uint32(16385)
      .cstring('public')
      .cstring('t')
      .byte('d')
      .int16(1)
      .byte(1)
      .cstring('id')
      .uint32(23)
      .int32(-1)
      .build();
    expect(v.reset(relation)).toBe(MessageTag.Relation);
    expect(v.relationOid).toBe(16385);
    const msg = v.toMessage();
    expect(msg).toMatchObject({ tag: 'relation', name: 't', columns: [{ name: 'id' }] });
    expect(v.toMessage()).toBe(msg);
    expect(() => v.reset(bytes().byte('Y').uint32(1).cstring('s').build())).toThrow(
      expect.objectContaining({ code: 'truncated', tag: 'Y' }),
    );
    expect(() => v.toMessage()).toThrow(/on no message/);
  });

  test('resetFrame: XLogData header fields; 0 for a keepalive or a short frame', () => {
    const v = new MessageView();
    const msg = bytes().byte('I').uint32(1).byte('N').tuple(['ok']).build();
    const frame = xlogData(MAX_U64, 0x10n, -2n, msg);
    const buf = new Uint8Array(frame.length + 10);
    buf.set(frame, 4);
    expect(v.resetFrame(buf, 4, frame.length)).toBe(MessageTag.Insert);
    expect([v.walStart, v.walEnd, v.serverClock, v.newTuple.text(0)]).toEqual([
      MAX_U64,
      0x10n,
      -2n,
      'ok',
    ]);
    expect(v.newTuple.offset(0)).toBe(4 + 25 + 1 + 4 + 1 + 2 + 1 + 4);
    expect(v.resetFrame(bytes().byte('k').uint64(1n).int64(2n).byte(0).build())).toBe(0);
    expect(v.tag).toBe(0);
    expect(v.resetFrame(frame.subarray(0, 24))).toBe(0);
    // An empty XLogData payload is a truncated message, as decoding frame.data would say.
    expect(() => v.resetFrame(frame.subarray(0, 25))).toThrow(
      expect.objectContaining({ code: 'truncated', offset: 0 }),
    );
    v.reset(msg);
    expect(() => v.walStart).toThrow(/resetFrame/);
  });

  test('errors in a message inside a larger buffer report offsets relative to the message', () => {
    const v = new MessageView();
    const msg = bytes().byte('I').uint32(1).byte('N').tuple(['ok', 'x']).build();
    const buf = new Uint8Array(100).fill(0x74);
    buf.set(msg.subarray(0, msg.length - 1), 50);
    expect(() => v.reset(buf, 50, msg.length - 1)).toThrow(
      expect.objectContaining({ code: 'truncated', tag: 'I', offset: 16 }),
    );
  });

  test('arguments outside the buffer are refused', () => {
    const v = new MessageView();
    const b = new Uint8Array(4);
    for (const [offset, length] of [
      [5, 0],
      [2, 3],
      [-1, 1],
      [1.5, 1],
    ]) {
      expect(() => v.reset(b, offset, length)).toThrow(PgoutputError);
    }
    expect(() => v.reset('I' as never)).toThrow(/takes a Uint8Array/);
    expect(() => new MessageView({ protoVersion: 5 as never })).toThrow(/not a pgoutput protocol/);
  });
});
