import { describe, expect, test } from 'vitest';
import { StreamPositions } from './positions.js';

const header = (lsn: bigint): Buffer => {
  const b = Buffer.alloc(9);
  b.writeBigUInt64BE(lsn, 1);
  return b;
};

describe('StreamPositions.received', () => {
  test('an XLogData start read in halves is the same LSN, high bits included', () => {
    const p = new StreamPositions('s');
    for (const lsn of [0x16b3748n, 0x1_0000_0000n, 0xffff_ffff_8000_0001n]) {
      p.receivedAt(header(lsn), 1);
      expect(p.received).toBe(lsn);
    }
  });

  test('only moves forward, whether from a header or a keepalive', () => {
    const p = new StreamPositions('s');
    p.receivedUpTo(0x2_0000_0010n);
    p.receivedAt(header(0x1_ffff_ffffn), 1);
    expect(p.received).toBe(0x2_0000_0010n);
    p.receivedAt(header(0x2_0000_0011n), 1);
    p.receivedUpTo(0x2_0000_0000n);
    expect(p.received).toBe(0x2_0000_0011n);
  });
});
