import { describe, expect, test } from 'vitest';
import { bytes, copyData } from '../test/support/frame-builder.js';
import { CopyDataAssembler } from './copy-data-assembler.js';
import type { PgoutputDecodeError } from './errors.js';

const hex = (list: Uint8Array[]) => list.map((b) => Buffer.from(b).toString('hex'));

describe('CopyDataAssembler', () => {
  test('several messages in one chunk, one message over many chunks, empty payloads', () => {
    const a = new CopyDataAssembler();
    const stream = Buffer.concat([
      copyData(new Uint8Array([1, 2])),
      copyData(new Uint8Array(0)),
      copyData(new Uint8Array(300).fill(7)),
    ]);
    expect(hex(a.push(stream.subarray(0, 13)))).toEqual(['0102', '']);
    expect(a.bufferedBytes).toBe(1);
    const rest: Uint8Array[] = [];
    for (let i = 13; i < stream.length; i += 10) rest.push(...a.push(stream.subarray(i, i + 10)));
    expect(rest.length).toBe(1);
    expect(rest[0]).toEqual(new Uint8Array(300).fill(7));
    expect(a.bufferedBytes).toBe(0);
    a.finish();
  });

  test('payloads are copies', () => {
    const a = new CopyDataAssembler();
    const chunk = copyData(new Uint8Array([5, 6]));
    const [p] = a.push(chunk);
    chunk.fill(0);
    expect([...p!]).toEqual([5, 6]);
  });

  test('a non-CopyData message, a bad length, an oversized length', () => {
    const err = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as PgoutputDecodeError;
      }
      throw new Error('no error');
    };
    const a = new CopyDataAssembler({ maxMessageBytes: 100 });
    a.push(copyData(new Uint8Array([1])));
    expect(err(() => a.push(bytes().byte('E').int32(4).build()))).toMatchObject({
      code: 'unknown_tag',
      offset: 6,
    });
    expect(err(() => new CopyDataAssembler().push(bytes().byte('d').int32(3).build())).code).toBe(
      'invalid',
    );
    expect(err(() => a.push(bytes().byte('d').int32(101).build()))).toMatchObject({
      code: 'oversized',
    });
    expect(
      err(() => new CopyDataAssembler().push(bytes().byte('d').uint32(0xffff_fff0).build())).code,
    ).toBe('oversized');
    const cut = new CopyDataAssembler();
    cut.push(copyData(new Uint8Array([1, 2, 3])).subarray(0, 6));
    expect(err(() => cut.finish())).toMatchObject({ code: 'truncated', offset: 0 });
    expect(() => new CopyDataAssembler({ maxMessageBytes: 2 })).toThrow(/maxMessageBytes/);
  });

  test('reset drops a partial message', () => {
    const a = new CopyDataAssembler();
    a.push(copyData(new Uint8Array([1, 2, 3])).subarray(0, 4));
    a.reset();
    expect(a.bufferedBytes).toBe(0);
    expect(hex(a.push(copyData(new Uint8Array([9]))))).toEqual(['09']);
  });
});
