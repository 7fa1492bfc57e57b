import { describe, expect, test } from 'vitest';
import type { WireTuple } from '../change.js';
import { fakeRelation, fakeTarget } from '../testing/fake-target.js';
import { CopyPayload, copyEscape } from './copy-payload.js';
import { copyRows } from './copy-rows.js';
import type { PlannedOp } from './plan-units.js';
import { resolveShape } from './shape.js';

describe('COPY text format', () => {
  test.each([
    ['plain', 'plain'],
    ['', ''],
    ['a\tb', 'a\\tb'],
    ['a\nb', 'a\\nb'],
    ['a\rb', 'a\\rb'],
    ['a\\b', 'a\\\\b'],
    ['\\N', '\\\\N'],
    ['\\.', '\\\\.'],
    ['\t\n\\\r', '\\t\\n\\\\\\r'],
    ['ünï 🐘', 'ünï 🐘'],
    ['"quotes" and ,commas, {braces}', '"quotes" and ,commas, {braces}'],
  ])('escapes %j', (value, escaped) => {
    expect(copyEscape(value)).toBe(escaped);
  });

  test('rows: tab-separated, NULL as \\N, newline-terminated; chunks end on row boundaries', () => {
    const p = new CopyPayload();
    p.row(['1', null, '', 'a\tb']);
    expect(Buffer.concat(p.take()).toString('utf8')).toBe('1\t\\N\t\ta\\tb\n');
    const big = 'y'.repeat(1000);
    for (let i = 0; i < 200; i++) p.row([String(i), big]);
    expect(p.rows).toBe(200);
    const chunks = p.take();
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) expect(c[c.length - 1]).toBe(0x0a);
    const lines = Buffer.concat(chunks).toString('utf8').split('\n');
    expect(lines).toHaveLength(201);
    expect(lines[199]).toBe(`199\t${big}`);
    expect(p.take()).toEqual([]);
    expect(p.rows).toBe(0);
  });

  test('rows byte-identical to the escaped text, whatever the mix of ASCII, escapes, non-ASCII and size', () => {
    const values = [
      'plain',
      'a\tb\\c\nd\re',
      'ünï\tcödé\\ 🐘\n日本',
      '🐘',
      '\\N',
      '',
      'x'.repeat(70_000),
      `${'é'.repeat(40_000)}\t`,
      null,
    ];
    const p = new CopyPayload();
    let expected = '';
    for (let i = 0; i < 50; i++) {
      const row = values.map((v, j) => (j === i % values.length ? v : `${i}`));
      p.row(row);
      expected += `${row.map((v) => (v === null ? '\\N' : copyEscape(v))).join('\t')}\n`;
    }
    const chunks = p.take();
    for (const c of chunks) expect(c[c.length - 1]).toBe(0x0a);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(expected);
  });

  test('copyRows: sid first, shared columns only, quoted; history rows open from the change time', () => {
    const target = fakeTarget('history', [
      ['id', 'integer'],
      ['Doc', 'json', false],
    ]);
    const shape = resolveShape(
      fakeRelation([
        ['id', 23, true],
        ['only_in_source', 25, false],
        ['Doc', 114, false],
      ]),
      target,
    );
    const op: PlannedOp<string> = {
      kind: 'update',
      newT: ['7', 'x', '{"a":"\\n"}'],
      whereT: ['7', null, null],
      keyChanged: false,
      seq: 0,
      time: '2024-01-01 00:00:00+00',
      quiet: false,
      refs: ['r'],
    };
    const st = copyRows(shape, '3', [op], true);
    expect(st.text).toBe(
      'COPY "public"."t" (sid, "id", "Doc", kvsz_start, kvsz_end, kvsz_deleted) FROM STDIN',
    );
    expect(st.rows).toBe(1);
    expect(Buffer.concat(st.chunks).toString('utf8')).toBe(
      '3\t7\t{"a":"\\\\n"}\t2024-01-01 00:00:00+00\t9999-01-01 00:00:00+00\tf\n',
    );
  });

  describe('binary mode', () => {
    const int4 = (b: Uint8Array, start: number) => String(Buffer.from(b).readInt32BE(start));
    const text = (b: Uint8Array, start: number, length: number) =>
      Buffer.from(b).toString('utf8', start, start + length);
    /** id 7 (int4 send format), note 'a\tb', then a NULL. */
    const wire: WireTuple = {
      bytes: Buffer.from([0, 0, 0, 7, 0x61, 0x09, 0x62]),
      offsets: new Int32Array([0, 4, 4, 3, -1, 0]),
      at: 0,
      count: 3,
      binary: [int4, text, text],
    };
    const relation = fakeRelation([
      ['id', 23, true],
      ['note', 25, false],
      ['gone', 25, false],
    ]);
    const op: PlannedOp<string> = {
      kind: 'insert',
      wire,
      newT: undefined,
      whereT: undefined,
      keyChanged: false,
      seq: 0,
      time: '2024-01-01 00:00:00+00',
      quiet: false,
      refs: ['r'],
    };
    const int32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(n);
      return b;
    };

    test('copyRows: rows of the same built-in types go into COPY BINARY as they are, sid encoded', () => {
      const target = fakeTarget(
        'clone',
        [
          ['id', 'integer', true, 23],
          ['note', 'text', true, 25],
          ['gone', 'text', true, 25],
        ],
        20,
      );
      const st = copyRows(resolveShape(relation, target), '3', [op, op]);
      expect(st.text).toBe(
        'COPY "public"."t" (sid, "id", "note", "gone") FROM STDIN (FORMAT binary)',
      );
      const row = Buffer.concat([
        Buffer.from([0, 4]),
        int32(8),
        Buffer.from([0, 0, 0, 0, 0, 0, 0, 3]),
        int32(4),
        Buffer.from([0, 0, 0, 7]),
        int32(3),
        Buffer.from('a\tb'),
        int32(-1),
      ]);
      expect(Buffer.concat(st.chunks)).toEqual(
        Buffer.concat([
          Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'),
          int32(0),
          int32(0),
          row,
          row,
          Buffer.from([0xff, 0xff]),
        ]),
      );
      expect(st.rows).toBe(2);
    });

    test('copyRows: a column of another type, a sid that does not fit, or history: decoded into text', () => {
      const retyped = fakeTarget('clone', [
        ['id', 'bigint', true, 20],
        ['note', 'text', true, 25],
      ]);
      const decoded = copyRows(resolveShape(relation, retyped), '3', [op]);
      expect(decoded.text).toBe('COPY "public"."t" (sid, "id", "note") FROM STDIN');
      expect(Buffer.concat(decoded.chunks).toString('utf8')).toBe('3\t7\ta\\tb\n');
      const same = [
        ['id', 'integer', true, 23],
        ['note', 'text', true, 25],
      ] as [string, string, boolean, number][];
      const smallSid = copyRows(resolveShape(relation, fakeTarget('clone', same, 21)), '70000', [
        op,
      ]);
      expect(smallSid.text).not.toContain('binary');
      expect(Buffer.concat(smallSid.chunks).toString('utf8')).toBe('70000\t7\ta\\tb\n');
      const history = copyRows(
        resolveShape(relation, fakeTarget('history', same)),
        '3',
        [op],
        true,
      );
      expect(history.text).not.toContain('binary');
      expect(Buffer.concat(history.chunks).toString('utf8')).toBe(
        '3\t7\ta\\tb\t2024-01-01 00:00:00+00\t9999-01-01 00:00:00+00\tf\n',
      );
    });
  });
});
