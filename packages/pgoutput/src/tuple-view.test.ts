import { describe, expect, test } from 'vitest';
import { bytes, TOAST } from '../test/support/frame-builder.js';
import { HASH_SEED, hashBytes } from './column-hash.js';
import { PgoutputDecodeError } from './errors.js';
import { MessageView } from './message-view.js';
import { UNCHANGED_TOAST } from './messages.js';

const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

/** An Update with old row `old` and new row `now`, on one view each time. */
function update(old: Parameters<ReturnType<typeof bytes>['tuple']>[0], now: typeof old) {
  const v = new MessageView();
  v.reset(bytes().byte('U').uint32(1).byte('O').tuple(old).byte('N').tuple(now).build());
  return v;
}

describe('TupleView', () => {
  test('text, value and bytes of each kind', () => {
    const bin = new Uint8Array([0, 255, 7]);
    const v = update([], ['żółw', null, TOAST, bin, '']);
    const t = v.newTuple;
    expect(t.text(0)).toBe('żółw');
    expect(t.text(4)).toBe('');
    expect([0, 1, 2, 3, 4].map((i) => t.value(i))).toEqual([
      'żółw',
      null,
      UNCHANGED_TOAST,
      bin,
      '',
    ]);
    // value() copies binary bytes; bytes() is a view into the message.
    const copy = t.value(3) as Uint8Array;
    expect(copy.buffer).not.toBe(t.buffer.buffer);
    expect(t.bytes(3).buffer).toBe(t.buffer.buffer);
    expect(Buffer.from(t.bytes(0)).toString()).toBe('żółw');
    expect(t.bytes(1).length).toBe(0);
    expect(() => t.text(1)).toThrow(/column index 1 is NULL, not text/);
    expect(() => t.text(3)).toThrow(/is binary, not text/);
    expect(() => t.kind(5)).toThrow(/column index 5 is out of range; the tuple has 5 columns/);
    expect(() => t.kind(-1)).toThrow(/out of range/);
  });

  test('invalid UTF-8 fails when the value is read, with the error the decoder throws', () => {
    const v = new MessageView();
    const msg = bytes()
      .byte('I')
      .uint32(1)
      .byte('N')
      .int16(2)
      .byte('t')
      .int32(1)
      .raw([0x41])
      .byte('t')
      .int32(2)
      .raw([0xc3, 0x28])
      .build();
    v.reset(msg);
    expect(v.newTuple.text(0)).toBe('A');
    // Bytes go to COPY as they are: the server checks them there.
    expect([...v.newTuple.bytes(1)]).toEqual([0xc3, 0x28]);
    let err: unknown;
    try {
      v.newTuple.text(1);
    } catch (e: unknown) {
      err = e;
    }
    expect(err).toBeInstanceOf(PgoutputDecodeError);
    expect(err).toMatchObject({ code: 'invalid_utf8', tag: 'I', offset: 19, protoVersion: 1 });
  });

  test('equalsBytes and equalsColumn compare bytes (NULL equals NULL), hashColumn hashes them', () => {
    const v = update(['1', 'same', null, TOAST, 'é'], ['2', 'same', null, TOAST, 'e']);
    const [o, n] = [v.oldTuple, v.newTuple];
    expect(n.equalsBytes(1, enc('same'))).toBe(true);
    expect(n.equalsBytes(1, enc('xsamex'), 1, 5)).toBe(true);
    expect(n.equalsBytes(1, enc('sam'))).toBe(false);
    expect(n.equalsBytes(2, new Uint8Array(0))).toBe(false);
    expect([0, 1, 2, 3, 4].map((i) => o.equalsColumn(i, n))).toEqual([
      false,
      true,
      true,
      true,
      false,
    ]);
    expect(o.equalsColumn(1, o, 4)).toBe(false);
    expect(n.hashColumn(1)).toBe(hashBytes(enc('same')));
    expect(o.hashColumn(4)).toBe(hashBytes(enc('é'), 0, 2, HASH_SEED));
    expect(o.hashColumn(1)).toBe(n.hashColumn(1));
    expect(o.hashColumn(0)).not.toBe(n.hashColumn(0));
    // NULL, unchanged TOAST and '' hash apart.
    const empty = update([], ['']).newTuple.hashColumn(0);
    expect(new Set([n.hashColumn(2), n.hashColumn(3), empty]).size).toBe(3);
    // Chained over key columns: order matters.
    expect(n.hashColumn(1, n.hashColumn(0))).toBe(
      hashBytes(enc('same'), 0, 4, hashBytes(enc('2'))),
    );
    expect(n.hashColumn(1, n.hashColumn(0))).not.toBe(n.hashColumn(0, n.hashColumn(1)));
  });

  test('hashBytes spreads sequential keys over buckets', () => {
    const buckets = new Array(16).fill(0);
    for (let i = 0; i < 16_000; i++) buckets[hashBytes(enc(String(i))) % 16]++;
    for (const b of buckets) expect(b).toBeGreaterThan(850);
  });
});
