import { describe, expect, test } from 'vitest';
import { type BuilderColumn, bytes, TOAST } from '../test/support/frame-builder.js';
import { PgoutputDecodeError, PgoutputError } from './errors.js';
import { UNCHANGED_TOAST } from './messages.js';
import { PgoutputDecoder } from './pgoutput-decoder.js';

function decodeError(d: PgoutputDecoder, data: Uint8Array): PgoutputDecodeError {
  try {
    d.decode(data);
  } catch (err: unknown) {
    if (err instanceof PgoutputDecodeError) return err;
    throw err;
  }
  throw new Error('decoded without error');
}

const insert = (...cols: BuilderColumn[]) =>
  bytes().byte('I').uint32(16384).byte('N').tuple(cols).build();

describe('PgoutputDecoder', () => {
  test('tuple columns: text, NULL, unchanged TOAST, binary', () => {
    const d = new PgoutputDecoder();
    expect(d.decode(insert('a', null, TOAST, new Uint8Array([0, 255]), '')).tag).toBe('insert');
    const m = d.decode(insert('a', null, TOAST, new Uint8Array([0, 255]), ''));
    expect(m).toEqual({
      tag: 'insert',
      xid: undefined,
      relationOid: 16384,
      new: ['a', null, UNCHANGED_TOAST, new Uint8Array([0, 255]), ''],
    });
  });

  test('text of every length and script decodes exactly (ASCII fast path and UTF-8 path)', () => {
    const d = new PgoutputDecoder();
    const samples = [
      '',
      'x',
      'a'.repeat(7),
      'b'.repeat(8),
      'c'.repeat(16),
      'd'.repeat(17),
      'e'.repeat(5000),
      '\u00e9',
      '\uFEFFleading BOM kept',
      '\u{1F600}'.repeat(3),
      'mixed ascii then \u20ac',
      '\u0000nul inside',
      '\x7f',
      // Distinct characters at every length the short-ASCII path splits on (order matters).
      ...Array.from({ length: 18 }, (_, n) => '0123456789abcdefgh'.slice(0, n)),
    ];
    for (const s of samples) {
      const m = d.decode(insert(s));
      expect(m.tag === 'insert' && m.new[0]).toBe(s);
    }
  });

  test('binary values are copies, not views into the input', () => {
    const d = new PgoutputDecoder();
    const input = insert(new Uint8Array([1, 2, 3]));
    const m = d.decode(input);
    input.fill(0);
    expect(m.tag === 'insert' && [...(m.new[0] as Uint8Array)]).toEqual([1, 2, 3]);
    const v = m.tag === 'insert' ? (m.new[0] as Uint8Array) : new Uint8Array();
    expect(v.buffer).not.toBe(input.buffer);
    expect(Object.getPrototypeOf(v)).toBe(Uint8Array.prototype);
  });

  test('Buffer input (as pg-copy-streams hands out) works and is not aliased', () => {
    const d = new PgoutputDecoder();
    const buf = Buffer.from(insert(new Uint8Array([9]), 'txt'));
    const m = d.decode(buf);
    buf.fill(0);
    expect(m).toMatchObject({ new: [new Uint8Array([9]), 'txt'] });
  });

  test('unknown tag', () => {
    const err = decodeError(new PgoutputDecoder(), bytes().byte('Z').build());
    expect(err).toMatchObject({ code: 'unknown_tag', offset: 0, tag: undefined, protoVersion: 1 });
    expect(err.message).toContain("'Z'");
    expect(err).toBeInstanceOf(PgoutputError);
    expect(err.name).toBe('PgoutputDecodeError');
  });

  test('something other than bytes is an invalid_argument, not a decode error', () => {
    const d = new PgoutputDecoder();
    expect(() => d.decode('B' as unknown as Uint8Array)).toThrow(
      /takes a Uint8Array or Buffer, got string/,
    );
    try {
      d.decode(null as unknown as Uint8Array);
    } catch (err) {
      expect(err).toBeInstanceOf(PgoutputError);
      expect(err).not.toBeInstanceOf(PgoutputDecodeError);
      expect((err as PgoutputError).code).toBe('invalid_argument');
    }
  });

  test('empty input is truncated', () => {
    expect(decodeError(new PgoutputDecoder(), new Uint8Array(0)).code).toBe('truncated');
  });

  test('bad column kind, bad tuple marker, bad replica identity are invalid', () => {
    const d = new PgoutputDecoder();
    const badKind = bytes().byte('I').uint32(1).byte('N').int16(1).byte('x').build();
    expect(decodeError(d, badKind)).toMatchObject({ code: 'invalid', tag: 'I', offset: 8 });
    expect(decodeError(d, bytes().byte('I').uint32(1).byte('K').int16(0).build())).toMatchObject({
      code: 'invalid',
      offset: 5,
    });
    expect(decodeError(d, bytes().byte('U').uint32(1).byte('X').build()).code).toBe('invalid');
    expect(decodeError(d, bytes().byte('D').uint32(1).byte('N').int16(0).build()).code).toBe(
      'invalid',
    );
    const rel = bytes().byte('R').uint32(1).cstring('s').cstring('t').byte('q').int16(0).build();
    expect(decodeError(d, rel).code).toBe('invalid');
  });

  test('a negative (high-bit) length is oversized, a large one truncated, without allocating', () => {
    const d = new PgoutputDecoder();
    const neg = bytes()
      .byte('I')
      .uint32(1)
      .byte('N')
      .int16(1)
      .byte('t')
      .uint32(0x8000_0000)
      .build();
    expect(decodeError(d, neg)).toMatchObject({ code: 'oversized', offset: 9 });
    const big = bytes().byte('I').uint32(1).byte('N').int16(1).byte('b').int32(0x7fff_ffff).build();
    expect(decodeError(d, big)).toMatchObject({ code: 'truncated', offset: 9 });
    const manyCols = bytes().byte('I').uint32(1).byte('N').int16(0xffff).byte('n').build();
    expect(decodeError(d, manyCols).code).toBe('truncated');
    const manyRels = bytes().byte('T').uint32(0xffff_ffff).byte(0).uint32(1).build();
    expect(decodeError(d, manyRels).code).toBe('truncated');
    const manyDefs = bytes()
      .byte('R')
      .uint32(1)
      .cstring('s')
      .cstring('t')
      .byte('d')
      .int16(0xffff)
      .build();
    expect(decodeError(d, manyDefs).code).toBe('truncated');
  });

  test('trailing bytes after a complete message', () => {
    const d = new PgoutputDecoder();
    const err = decodeError(d, bytes().byte('E').build());
    expect(err.code).toBe('protocol_version');
    const extra = bytes().byte('B').uint64(1n).int64(1n).uint32(1).byte(0).build();
    expect(decodeError(d, extra)).toMatchObject({ code: 'trailing_bytes', offset: 21, tag: 'B' });
  });

  test('invalid UTF-8 in a text value names the fix', () => {
    const d = new PgoutputDecoder();
    const bad = bytes()
      .byte('I')
      .uint32(1)
      .byte('N')
      .int16(1)
      .byte('t')
      .int32(2)
      .raw([0xc3, 0x28])
      .build();
    const err = decodeError(d, bad);
    expect(err.code).toBe('invalid_utf8');
    expect(err.message).toContain('client_encoding=UTF8');
    expect(err.offset).toBe(13);
  });

  test('messages above the decoder protocol version are refused', () => {
    const v1 = new PgoutputDecoder();
    expect(decodeError(v1, bytes().byte('S').uint32(1).byte(1).build()).code).toBe(
      'protocol_version',
    );
    const v2 = new PgoutputDecoder({ protoVersion: 2 });
    const prepare = bytes()
      .byte('P')
      .byte(0)
      .uint64(1n)
      .uint64(2n)
      .int64(3n)
      .uint32(4)
      .cstring('g')
      .build();
    expect(decodeError(v2, prepare).code).toBe('protocol_version');
    expect(new PgoutputDecoder({ protoVersion: 3 }).decode(prepare)).toMatchObject({
      tag: 'prepare',
      gid: 'g',
    });
    const abortV4 = bytes().byte('A').uint32(1).uint32(1).uint64(5n).int64(6n).build();
    expect(decodeError(v2, abortV4).code).toBe('trailing_bytes');
    expect(() => new PgoutputDecoder({ protoVersion: 5 as 1 })).toThrow(/protoVersion 5/);
  });

  test('xid prefix only inside a stream block; reset() leaves the block', () => {
    const d = new PgoutputDecoder({ protoVersion: 2 });
    expect(d.inStreamBlock).toBe(false);
    d.decode(bytes().byte('S').uint32(77).byte(0).build());
    expect(d.inStreamBlock).toBe(true);
    const inStream = bytes().byte('I').uint32(78).uint32(5).byte('N').tuple(['v']).build();
    expect(d.decode(inStream)).toEqual({ tag: 'insert', xid: 78, relationOid: 5, new: ['v'] });
    // A failed decode does not change the state.
    expect(() => d.decode(bytes().byte('E').byte(0).build())).toThrow(PgoutputDecodeError);
    expect(d.inStreamBlock).toBe(true);
    d.decode(bytes().byte('E').build());
    expect(d.inStreamBlock).toBe(false);
    expect(d.decode(bytes().byte('I').uint32(5).byte('N').tuple(['v']).build())).toMatchObject({
      xid: undefined,
    });
    d.decode(bytes().byte('S').uint32(77).byte(1).build());
    d.reset();
    expect(d.inStreamBlock).toBe(false);
    const logical = bytes().byte('M').byte(1).uint64(9n).cstring('p').int32(1).raw([7]).build();
    expect(d.decode(logical)).toMatchObject({
      tag: 'message',
      xid: undefined,
      transactional: true,
    });
  });

  test('Stream Start first-segment flag must be 0 or 1', () => {
    const d = new PgoutputDecoder({ protoVersion: 2 });
    expect(decodeError(d, bytes().byte('S').uint32(1).byte(2).build()).code).toBe('invalid');
  });
});
