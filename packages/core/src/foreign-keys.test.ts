import { describe, expect, test } from 'vitest';
import { linkTables } from './foreign-keys.js';

describe('linkTables', () => {
  test('ranks parents first; self references and cycles', () => {
    const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'];
    const links = linkTables(
      [c, b, a, d, e],
      [
        { child: c, parent: b },
        { child: b, parent: a },
        { child: d, parent: d },
        { child: e, parent: c },
        { child: c, parent: e },
      ],
    );
    const rank = (n: string) => links.get(n)!.rank;
    expect(rank(a)).toBeLessThan(rank(b));
    expect(rank(b)).toBeLessThan(rank(c));
    expect(rank(c)).toBe(rank(e));
    expect(links.get(d)!.related.get(d)).toBe('self');
    expect(links.get(c)!.related.get(e)).toBe('cycle');
    expect(links.get(c)!.related.get(c)).toBe('cycle');
    expect(links.get(b)!.related.get(c)).toBe('child');
    expect(links.get(c)!.related.get(b)).toBe('parent');
    expect(links.get(a)!.related.size).toBe(1);
  });
});
