import { describe, expect, test } from 'vitest';
import { bytes } from '../test/support/frame-builder.js';
import { PgoutputDecodeError } from './errors.js';
import {
  encodeStandbyStatusUpdate,
  parseReplicationFrame,
  XLOGDATA_HEADER_BYTES,
  xlogDataStart,
} from './replication-frame.js';

const fail = (frame: Uint8Array): PgoutputDecodeError => {
  try {
    parseReplicationFrame(frame);
  } catch (e) {
    if (e instanceof PgoutputDecodeError) return e;
    throw e;
  }
  throw new Error('parsed without error');
};

describe('replication framing', () => {
  test('xlogDataStart: the WAL start of XLogData, as parseReplicationFrame reads it; undefined otherwise', () => {
    for (const start of [0n, 0x16b3748n, 2n ** 53n + 1n, 0xffff_ffff_ffff_ffffn]) {
      const frame = bytes().byte('w').uint64(start).uint64(7n).int64(3n).raw([0x42, 0x43]).build();
      expect(xlogDataStart(frame)).toBe(start);
      const f = parseReplicationFrame(frame);
      expect(f.tag === 'xlogdata' && f.walStart).toBe(start);
      expect([...frame.subarray(XLOGDATA_HEADER_BYTES)]).toEqual([0x42, 0x43]);
    }
    const header = bytes().byte('w').uint64(5n).uint64(7n).int64(3n).build();
    expect(xlogDataStart(header)).toBe(5n);
    expect(xlogDataStart(header.subarray(0, 24))).toBeUndefined();
    expect(xlogDataStart(bytes().byte('k').uint64(1n).int64(2n).byte(0).build())).toBeUndefined();
    expect(xlogDataStart(new Uint8Array(0))).toBeUndefined();
  });

  test('XLogData data is the rest of the frame', () => {
    const frame = bytes().byte('w').uint64(1n).uint64(2n).int64(3n).raw([0x45]).build();
    const f = parseReplicationFrame(frame);
    expect(f).toEqual({
      tag: 'xlogdata',
      walStart: 1n,
      walEnd: 2n,
      serverClock: 3n,
      data: new Uint8Array([0x45]),
    });
  });

  test('keepalive with and without reply request', () => {
    expect(parseReplicationFrame(bytes().byte('k').uint64(10n).int64(20n).byte(0).build())).toEqual(
      {
        tag: 'keepalive',
        walEnd: 10n,
        serverClock: 20n,
        replyRequested: false,
      },
    );
  });

  test('bad frames', () => {
    expect(fail(bytes().byte('x').build())).toMatchObject({ code: 'unknown_tag', offset: 0 });
    expect(fail(bytes().byte('w').uint64(1n).build())).toMatchObject({
      code: 'truncated',
      tag: 'w',
    });
    expect(fail(bytes().byte('k').uint64(1n).int64(1n).build()).code).toBe('truncated');
    expect(fail(bytes().byte('k').uint64(1n).int64(1n).byte(2).build()).code).toBe('invalid');
    expect(fail(bytes().byte('k').uint64(1n).int64(1n).byte(0).byte(0).build()).code).toBe(
      'trailing_bytes',
    );
    expect(fail(new Uint8Array(0)).code).toBe('truncated');
  });

  test('standby status update: layout, default clock, validation', () => {
    const u = encodeStandbyStatusUpdate({ writeLsn: 3n, flushLsn: 2n, applyLsn: 1n, clock: 7n });
    expect(Buffer.from(u).toString('hex')).toBe(
      Buffer.from(
        bytes().byte('r').uint64(3n).uint64(2n).uint64(1n).int64(7n).byte(0).build(),
      ).toString('hex'),
    );
    const now = encodeStandbyStatusUpdate({ writeLsn: 0n, flushLsn: 0n, applyLsn: 0n });
    const clock = Buffer.from(now).readBigInt64BE(25);
    expect(clock).toBeGreaterThan(BigInt(Date.UTC(2024, 0, 1) - 946_684_800_000) * 1000n);
    expect(() => encodeStandbyStatusUpdate({ writeLsn: -1n, flushLsn: 0n, applyLsn: 0n })).toThrow(
      /writeLsn -1/,
    );
    expect(() =>
      encodeStandbyStatusUpdate({ writeLsn: 0n, flushLsn: 1n << 64n, applyLsn: 0n }),
    ).toThrow(/flushLsn/);
    expect(() =>
      encodeStandbyStatusUpdate({ writeLsn: 0n, flushLsn: 0n, applyLsn: 0n, clock: 1n << 63n }),
    ).toThrow(/clock/);
  });
});
