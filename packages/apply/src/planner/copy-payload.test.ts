import { describe, expect, test } from 'vitest';
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
});
