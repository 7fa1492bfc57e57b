/**
 * Hand-built messages (test-only builder, no production code) with values
 * that have the high bit set: peers read these as signed numbers.
 */
import { describe, expect, test } from 'vitest';
import {
  compareLsn,
  encodeStandbyStatusUpdate,
  formatLsn,
  PG_TIMESTAMP_INFINITY,
  PG_TIMESTAMP_MINUS_INFINITY,
  PgoutputDecoder,
  parseLsn,
  parseReplicationFrame,
  pgTimestampToIso,
} from '../src/index.js';
import { bytes } from './support/frame-builder.js';

const MAX_U64 = 0xffff_ffff_ffff_ffffn;
const MAX_U32 = 0xffff_ffff;
const INT64_MAX = 0x7fff_ffff_ffff_ffffn;
const INT64_MIN = -0x8000_0000_0000_0000n;

describe('high-bit values', () => {
  const d1 = new PgoutputDecoder();

  test('Begin: LSN FFFFFFFF/FFFFFFFF, xid 4294967295, commit time infinity', () => {
    const msg = d1.decode(
      bytes().byte('B').uint64(MAX_U64).int64(INT64_MAX).uint32(MAX_U32).build(),
    );
    expect(msg).toEqual({ tag: 'begin', finalLsn: MAX_U64, commitTime: INT64_MAX, xid: MAX_U32 });
    if (msg.tag !== 'begin') throw new Error('begin');
    expect(formatLsn(msg.finalLsn)).toBe('FFFFFFFF/FFFFFFFF');
    expect(msg.commitTime).toBe(PG_TIMESTAMP_INFINITY);
    expect(pgTimestampToIso(msg.commitTime)).toBe('infinity');
  });

  test('Commit: LSN halves with the high bit, negative and -infinity times', () => {
    const c1 = d1.decode(
      bytes().byte('C').byte(0).uint64(0x8000_0000_8000_0000n).uint64(MAX_U64).int64(-1n).build(),
    );
    expect(c1).toEqual({
      tag: 'commit',
      flags: 0,
      commitLsn: 0x8000_0000_8000_0000n,
      endLsn: MAX_U64,
      commitTime: -1n,
    });
    const c2 = d1.decode(bytes().byte('C').byte(0).uint64(1n).uint64(2n).int64(INT64_MIN).build());
    expect(c2).toMatchObject({ commitTime: PG_TIMESTAMP_MINUS_INFINITY });
    expect(pgTimestampToIso(INT64_MIN)).toBe('-infinity');
    expect(pgTimestampToIso(-1n)).toBe('1999-12-31T23:59:59.999999Z');
  });

  // 64-bit reads take a float fast path below 2^53 and bigint arithmetic above.
  test.each([
    0n,
    1n,
    0xffff_ffffn,
    0x1_0000_0000n,
    2n ** 53n - 1n,
    2n ** 53n,
    2n ** 53n + 1n,
    2n ** 63n,
    MAX_U64 - 1n,
  ])('LSN %s decodes exactly on both sides of 2^53', (lsn) => {
    const c = d1.decode(bytes().byte('C').byte(0).uint64(lsn).uint64(lsn).int64(0n).build());
    expect(c).toMatchObject({ commitLsn: lsn, endLsn: lsn });
  });

  test.each([
    -1n,
    -(2n ** 32n),
    -(2n ** 53n) + 1n,
    -(2n ** 53n),
    -(2n ** 53n) - 1n,
    2n ** 53n - 1n,
    2n ** 53n,
    INT64_MIN + 1n,
    INT64_MAX - 1n,
  ])('timestamp %s decodes exactly on both sides of +-2^53', (t) => {
    const c = d1.decode(bytes().byte('C').byte(0).uint64(1n).uint64(2n).int64(t).build());
    expect(c).toMatchObject({ commitTime: t });
  });

  test('Relation: OIDs 4294967295 / 2147483648, type modifier -1 and int32 max, all flag bits', () => {
    const msg = d1.decode(
      bytes()
        .byte('R')
        .uint32(MAX_U32)
        .cstring('s')
        .cstring('t')
        .byte('f')
        .int16(2)
        .byte(0xff)
        .cstring('a')
        .uint32(0x8000_0000)
        .int32(-1)
        .byte(0)
        .cstring('b')
        .uint32(MAX_U32)
        .int32(0x7fff_ffff)
        .build(),
    );
    expect(msg).toEqual({
      tag: 'relation',
      xid: undefined,
      relationOid: MAX_U32,
      schema: 's',
      name: 't',
      replicaIdentity: 'full',
      columns: [
        { flags: 0xff, isKey: true, name: 'a', typeOid: 0x8000_0000, typeMod: -1 },
        { flags: 0, isKey: false, name: 'b', typeOid: MAX_U32, typeMod: 0x7fff_ffff },
      ],
    });
  });

  test('Insert / Truncate / Type with unsigned OIDs; streamed xid prefix 4294967295', () => {
    const d2 = new PgoutputDecoder({ protoVersion: 2 });
    expect(d2.decode(bytes().byte('S').uint32(MAX_U32).byte(1).build())).toEqual({
      tag: 'stream_start',
      xid: MAX_U32,
      firstSegment: true,
    });
    expect(
      d2.decode(
        bytes().byte('I').uint32(MAX_U32).uint32(0x8000_0001).byte('N').tuple(['x']).build(),
      ),
    ).toEqual({
      tag: 'insert',
      xid: MAX_U32,
      relationOid: 0x8000_0001,
      new: ['x'],
    });
    expect(
      d2.decode(
        bytes()
          .byte('T')
          .uint32(0x8000_0000)
          .uint32(2)
          .byte(3)
          .uint32(MAX_U32)
          .uint32(0x8000_0000)
          .build(),
      ),
    ).toEqual({
      tag: 'truncate',
      xid: 0x8000_0000,
      cascade: true,
      restartIdentity: true,
      relationOids: [MAX_U32, 0x8000_0000],
    });
    expect(
      d2.decode(bytes().byte('Y').uint32(1).uint32(MAX_U32).cstring('').cstring('int4').build()),
    ).toEqual({
      tag: 'type',
      xid: 1,
      typeOid: MAX_U32,
      schema: '',
      name: 'int4',
    });
    d2.decode(bytes().byte('E').build());
    expect(d2.decode(bytes().byte('A').uint32(MAX_U32).uint32(0x8000_0000).build())).toEqual({
      tag: 'stream_abort',
      xid: MAX_U32,
      subXid: 0x8000_0000,
      abortLsn: undefined,
      abortTime: undefined,
    });
  });

  test('v4 Stream Abort with LSN and time', () => {
    const d4 = new PgoutputDecoder({ protoVersion: 4 });
    expect(
      d4.decode(
        bytes().byte('A').uint32(7).uint32(MAX_U32).uint64(MAX_U64).int64(INT64_MIN).build(),
      ),
    ).toEqual({
      tag: 'stream_abort',
      xid: 7,
      subXid: MAX_U32,
      abortLsn: MAX_U64,
      abortTime: INT64_MIN,
    });
  });

  test('two-phase messages with high-bit LSNs and xids', () => {
    const d3 = new PgoutputDecoder({ protoVersion: 3 });
    expect(
      d3.decode(
        bytes()
          .byte('r')
          .byte(0)
          .uint64(MAX_U64)
          .uint64(0x8000_0000_0000_0000n)
          .int64(-5n)
          .int64(INT64_MAX)
          .uint32(MAX_U32)
          .cstring('g\u00e9d')
          .build(),
      ),
    ).toEqual({
      tag: 'rollback_prepared',
      flags: 0,
      prepareEndLsn: MAX_U64,
      rollbackEndLsn: 0x8000_0000_0000_0000n,
      prepareTime: -5n,
      rollbackTime: INT64_MAX,
      xid: MAX_U32,
      gid: 'g\u00e9d',
    });
  });

  test('XLogData and keepalive frames', () => {
    const data = bytes().byte('E').build();
    const w = parseReplicationFrame(
      bytes().byte('w').uint64(MAX_U64).uint64(0x8000_0000_0000_0000n).int64(-1n).raw(data).build(),
    );
    expect(w).toMatchObject({
      tag: 'xlogdata',
      walStart: MAX_U64,
      walEnd: 0x8000_0000_0000_0000n,
      serverClock: -1n,
    });
    expect(w.tag === 'xlogdata' && [...w.data]).toEqual([0x45]);
    expect(
      parseReplicationFrame(bytes().byte('k').uint64(MAX_U64).int64(INT64_MAX).byte(1).build()),
    ).toEqual({
      tag: 'keepalive',
      walEnd: MAX_U64,
      serverClock: INT64_MAX,
      replyRequested: true,
    });
  });

  test('standby status update encodes unsigned LSNs and a negative clock byte for byte', () => {
    const got = encodeStandbyStatusUpdate({
      writeLsn: MAX_U64,
      flushLsn: 0x8000_0000_0000_0001n,
      applyLsn: 0n,
      clock: -2n,
      replyRequested: true,
    });
    const want = bytes()
      .byte('r')
      .uint64(MAX_U64)
      .uint64(0x8000_0000_0000_0001n)
      .uint64(0n)
      .int64(-2n)
      .byte(1)
      .build();
    expect(Buffer.from(got).toString('hex')).toBe(Buffer.from(want).toString('hex'));
    expect(got.length).toBe(34);
  });

  test('LSN text at the edges', () => {
    expect(parseLsn('FFFFFFFF/FFFFFFFF')).toBe(MAX_U64);
    expect(parseLsn('80000000/0')).toBe(0x8000_0000_0000_0000n);
    expect(formatLsn(0x8000_0000_0000_0000n)).toBe('80000000/0');
    expect(compareLsn(MAX_U64, 0x7fff_ffff_ffff_ffffn)).toBe(1);
    expect(compareLsn(0x8000_0000n, 0x7fff_ffffn)).toBe(1);
  });
});
