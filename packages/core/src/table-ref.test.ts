import { describe, expect, test } from 'vitest';
import { displayName, qualifiedName, sameTable, tableKey } from './table-ref.js';

describe('table names', () => {
  test.each([
    [{ schema: 'public', table: 'orders' }, '"public"."orders"', 'public.orders'],
    [{ schema: 'public', table: 'Orders' }, '"public"."Orders"', 'public."Orders"'],
    [{ schema: 'Sales', table: 'select' }, '"Sales"."select"', '"Sales"."select"'],
    [{ schema: 'app', table: 'user' }, '"app"."user"', 'app."user"'],
    [{ schema: 'a.b', table: 'c' }, '"a.b"."c"', '"a.b".c'],
    [{ schema: 'public', table: 'say "hi"' }, '"public"."say ""hi"""', 'public."say ""hi"""'],
  ])('%j', (ref, sql, shown) => {
    expect(qualifiedName(ref)).toBe(sql);
    expect(displayName(ref)).toBe(shown);
  });

  test('keys and equality tell dotted names apart', () => {
    const a = { schema: 'a.b', table: 'c' };
    const b = { schema: 'a', table: 'b.c' };
    expect(tableKey(a)).not.toBe(tableKey(b));
    expect(sameTable(a, b)).toBe(false);
    expect(sameTable(a, { schema: 'a.b', table: 'c' })).toBe(true);
    expect(tableKey(a)).toBe(tableKey({ ...a }));
  });
});
