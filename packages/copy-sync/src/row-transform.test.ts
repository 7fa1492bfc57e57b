import { describe, expect, it } from 'vitest';
import { RowRateLimit } from './rate-limit.js';
import type { BoundCopyRules } from './row-rules.js';
import { escapeCopyField, RowTransform, unescapeCopyField } from './row-transform.js';

/** Rows laid out as [id, note] (copied), [status, note] (read), ['s1'] (constant). */
const rules: BoundCopyRules = {
  reads: [2, 1],
  computed: ['label'],
  row(get) {
    if (get(2) !== 'open') return null;
    const note = get(1);
    return [note === null ? null : `${note.toUpperCase()}\t!`];
  },
};

describe('RowTransform', () => {
  it('keeps, rewrites and drops rows across chunk boundaries', () => {
    const input = Buffer.from(
      '1\ta\\nb\topen\ta\\nb\ts1\n2\tx\tclosed\tx\ts1\n3\t\\N\topen\t\\N\ts1\n',
    );
    for (let cut = 0; cut <= input.length; cut++) {
      const t = new RowTransform(rules, 2);
      const out = Buffer.concat([t.push(input.subarray(0, cut)), t.push(input.subarray(cut))]);
      t.end();
      expect(out.toString()).toBe('1\ta\\nb\tA\\nB\\t!\ts1\n3\t\\N\t\\N\ts1\n');
      expect(t.skipped).toBe(1);
    }
  });

  it('refuses data that ends inside a row', () => {
    const t = new RowTransform(rules, 2);
    t.push(Buffer.from('1\ta\topen\ta\ts1'));
    expect(() => t.end()).toThrow('COPY data ended inside a row');
  });
});

describe('COPY text escaping', () => {
  it('undoes every escape COPY TO writes, and writes only the ones COPY FROM needs', () => {
    expect(unescapeCopyField(Buffer.from('\\N'))).toBeNull();
    expect(unescapeCopyField(Buffer.from('a\\\\b\\tc\\rd\\be\\f\\v\\101\\x42'))).toBe(
      'a\\b\tc\rd\be\f\vAB',
    );
    expect(unescapeCopyField(Buffer.from('héllo'))).toBe('héllo');
    expect(escapeCopyField('a\\b\tc\nd\re')).toBe('a\\\\b\\tc\\nd\\re');
    expect(escapeCopyField(null)).toBe('\\N');
    for (const s of ['plain', 'x\\y', 'tab\there', 'nl\nthere'])
      expect(unescapeCopyField(Buffer.from(escapeCopyField(s)))).toBe(s);
  });
});

describe('RowRateLimit', () => {
  it('lets the burst through at once and makes the rest wait at the rate', () => {
    const limit = new RowRateLimit({ rowsPerSecond: 1000, burst: 500 });
    expect(limit.take(500)).toBe(0);
    const wait = limit.take(1000);
    expect(wait).toBeGreaterThan(990);
    expect(wait).toBeLessThanOrEqual(1000);
    expect(() => new RowRateLimit({ rowsPerSecond: 0 })).toThrow('rowsPerSecond must be above 0');
  });
});
