import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { bytes, TOAST } from '../test/support/frame-builder.js';
import { CopyBuffer } from './copy-buffer.js';
import { appendCopyNull, appendCopyText, writeCopyRow } from './copy-text.js';
import { PgoutputError } from './errors.js';
import { MessageView } from './message-view.js';

const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
const text = (out: CopyBuffer): string => Buffer.from(out.bytes()).toString('utf8');

function escaped(value: string): string {
  const out = new CopyBuffer(1);
  appendCopyText(out, enc(value));
  return text(out);
}

/** A view on an Insert whose new tuple holds `cols` (text, null, unchanged TOAST or binary). */
function insertOf(cols: (string | null | typeof TOAST | Uint8Array)[]): MessageView {
  const v = new MessageView();
  v.reset(bytes().byte('I').uint32(16385).byte('N').tuple(cols).build());
  return v;
}

/**
 * Test-only reader of COPY text rows, written from the PostgreSQL
 * documentation (COPY, "Text Format"), independent of the writer: `\N` alone
 * is NULL; a raw carriage return is an error; `\b \f \n \r \t \v`, octal `\digits`, hex `\xhh` and any other
 * backslashed byte stand for themselves.
 */
function readCopyText(data: Uint8Array): (string | null)[][] {
  const rows: (string | null)[][] = [];
  const s = Buffer.from(data);
  expect(s.length === 0 || s[s.length - 1] === 0x0a).toBe(true);
  let fields: (string | null)[] = [];
  let field: number[] = [];
  let raw = '';
  const endField = () => {
    fields.push(raw === '\\N' ? null : Buffer.from(field).toString('utf8'));
    field = [];
    raw = '';
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === 0x0a || c === 0x09) {
      endField();
      if (c === 0x0a) {
        rows.push(fields);
        fields = [];
      }
      continue;
    }
    // PostgreSQL refuses a raw carriage return ("literal carriage return found in data").
    if (c === 0x0d) throw new Error(`raw carriage return at byte ${i}`);
    if (c !== 0x5c) {
      field.push(c);
      raw += String.fromCharCode(c);
      continue;
    }
    const n = s[++i]!;
    raw += `\\${String.fromCharCode(n)}`;
    const simple: Record<string, number> = { b: 8, f: 12, n: 10, r: 13, t: 9, v: 11 };
    const letter = String.fromCharCode(n);
    if (letter in simple) field.push(simple[letter]!);
    else if (letter >= '0' && letter <= '7') {
      let v = n - 0x30;
      for (let k = 0; k < 2 && s[i + 1]! >= 0x30 && s[i + 1]! <= 0x37; k++)
        v = v * 8 + s[++i]! - 0x30;
      field.push(v & 0xff);
    } else if (letter === 'x' && /[0-9a-f]/i.test(String.fromCharCode(s[i + 1]!))) {
      let hex = String.fromCharCode(s[++i]!);
      if (/[0-9a-f]/i.test(String.fromCharCode(s[i + 1]!))) hex += String.fromCharCode(s[++i]!);
      field.push(Number.parseInt(hex, 16));
    } else field.push(n);
  }
  return rows;
}

describe('appendCopyText', () => {
  test.each([
    ['plain', 'plain'],
    ['', ''],
    ['back\\slash', 'back\\\\slash'],
    ['tab\there', 'tab\\there'],
    ['new\nline', 'new\\nline'],
    ['carriage\rreturn', 'carriage\\rreturn'],
    ['\\N', '\\\\N'],
    ['\\.', '\\\\.'],
    ['\r\n\t\\', '\\r\\n\\t\\\\'],
    // Only the four: other control bytes pass as they are (COPY FROM reads them raw).
    ['bell\x07 bs\b ff\f vt\v', 'bell\x07 bs\b ff\f vt\v'],
    ['żółw 🐢 日本 \u{feff}', 'żółw 🐢 日本 \u{feff}'],
    ['end\\', 'end\\\\'],
  ])('%j is written %j', (value, expected) => {
    expect(escaped(value)).toBe(expected);
  });

  test('multi-byte UTF-8 passes byte for byte (no continuation byte is ever escaped)', () => {
    const all = Array.from({ length: 0x800 }, (_, i) => String.fromCodePoint(i + 0x80)).join('');
    expect(escaped(all)).toBe(all);
  });

  test('a slice of a larger buffer, appended after what is there, growing the buffer', () => {
    const out = new CopyBuffer(4);
    appendCopyText(out, enc('xx\tab\\cd\nyy'), 2, 9);
    appendCopyNull(out);
    appendCopyText(out, enc('é'));
    expect(text(out)).toBe('\\tab\\\\cd\\n\\Né');
    out.clear();
    expect(out.length).toBe(0);
    appendCopyText(out, enc('a'));
    expect(text(out)).toBe('a');
  });

  test('a range outside the value is refused', () => {
    const out = new CopyBuffer();
    expect(() => appendCopyText(out, enc('abc'), 2, 4)).toThrow(PgoutputError);
    expect(() => appendCopyText(out, enc('abc'), 2, 1)).toThrow(/do not lie within/);
    expect(() => appendCopyText(out, 'abc' as never)).toThrow(/takes a Uint8Array/);
  });
});

describe('writeCopyRow', () => {
  test('chosen columns, tab-separated, newline-terminated, NULL as \\N', () => {
    const v = insertOf(['1', null, 'a\tb', '\\N', 'x\ny\r']);
    const out = new CopyBuffer(8);
    writeCopyRow(out, v.newTuple);
    writeCopyRow(out, v.newTuple, [3, 0, 1]);
    writeCopyRow(out, v.newTuple, []);
    expect(text(out)).toBe('1\t\\N\ta\\tb\t\\\\N\tx\\ny\\r\n\\\\N\t1\t\\N\n\n');
    expect(readCopyText(out.bytes())).toEqual([
      ['1', null, 'a\tb', '\\N', 'x\ny\r'],
      ['\\N', '1', null],
      [''],
    ]);
  });

  test('an unchanged TOAST or binary column, or a column out of range, is refused before anything is written', () => {
    const out = new CopyBuffer();
    appendCopyText(out, enc('kept'));
    const toast = insertOf(['1', TOAST]);
    expect(toast.newTuple.hasUnchangedToast).toBe(true);
    expect(() => writeCopyRow(out, toast.newTuple)).toThrow(/unchanged TOAST value/);
    writeCopyRow(out, toast.newTuple, [0]);
    const binary = insertOf(['1', new Uint8Array([1, 2])]);
    expect(() => writeCopyRow(out, binary.newTuple)).toThrow(/binary-format value/);
    expect(() => writeCopyRow(out, binary.newTuple, [0, 2])).toThrow(/out of range/);
    expect(text(out)).toBe('kept1\n');
  });

  test('rows read back as the values (random text, NULLs, control characters, unicode)', () => {
    const value = fc.option(
      fc.oneof(
        fc.string({
          unit: fc.constantFrom('\\', '\t', '\n', '\r', 'N', '.', 'a', 'é', '🐢', '\b'),
        }),
        fc.string({ unit: 'grapheme' }),
        fc.string({ unit: 'binary' }),
      ),
      { nil: null },
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(value, { minLength: 1, maxLength: 8 }), { maxLength: 6 }),
        (rows) => {
          const out = new CopyBuffer(16);
          const v = new MessageView();
          for (const row of rows) {
            v.reset(bytes().byte('I').uint32(1).byte('N').tuple(row).build());
            writeCopyRow(out, v.newTuple);
          }
          // Lone surrogates do not survive UTF-8; compare what the row's bytes meant.
          const meant = rows.map((r) =>
            r.map((s) => (s === null ? null : Buffer.from(s).toString())),
          );
          expect(readCopyText(out.bytes())).toEqual(meant);
        },
      ),
      { numRuns: 1000, seed: 14 },
    );
  });
});
