/** CEL filter and set expressions: syntax and type errors with their messages, values and results. */
import { describe, expect, test } from 'vitest';
import { fromCel, parseTimestamp, toCel } from '../src/rules/cel-values.js';
import { RuleError, TableRules } from '../src/rules/table-rules.js';

const columns = [
  { name: 'id', typeOid: 23 },
  { name: 'status', typeOid: 25 },
  { name: 'amount', typeOid: 1700 },
  { name: 'email', typeOid: 1043 },
  { name: 'created', typeOid: 1184 },
  { name: 'data', typeOid: 3802 },
  { name: 'active', typeOid: 16 },
  { name: 'photo', typeOid: 17 },
];
const row: (string | null)[] = [
  '7',
  'open',
  '12.5',
  'Ann@Example.com',
  '2024-05-01 10:00:00.5+02',
  '{"tier":"gold","n":3}',
  't',
  '\\x0102',
];
const at = (r: (string | null)[]) => (i: number) => r[i] ?? null;

function bind(filter: string | undefined, set?: Record<string, string>) {
  const { rules, problems } = TableRules.parse(filter, set);
  if (problems.length > 0) throw new Error(problems.map((p) => p.message).join('; '));
  return rules!.bind(columns, 'tenant1');
}

function bindError(filter: string | undefined, set?: Record<string, string>): RuleError {
  try {
    bind(filter, set);
  } catch (e) {
    if (e instanceof RuleError) return e;
    throw e;
  }
  throw new Error('expected a RuleError');
}

describe('compile-time errors name the expression and the position', () => {
  test('a syntax error is found when the configuration is read', () => {
    const { rules, problems } = TableRules.parse('status ==', undefined);
    expect(rules).toBeUndefined();
    expect(problems).toEqual([
      { field: 'filter', message: 'filter "status ==": Unexpected token: EOF (at character 10)' },
    ]);
  });

  test('an unknown column', () => {
    const e = bindError('amout > 1.0');
    expect(e.message).toBe('filter "amout > 1.0": Unknown variable: amout (at character 1)');
    expect(e.position).toBe(1);
  });

  test('a wrong type', () => {
    expect(bindError('id + "x" == "7x"').message).toBe(
      'filter "id + \\"x\\" == \\"7x\\"": no such overload: int + string (at character 1)',
    );
    expect(bindError(undefined, { label: 'status * 2' }).message).toContain(
      'set.label "status * 2": no such overload: string * int',
    );
  });

  test('a filter that does not return a bool', () => {
    expect(bindError('amount').message).toBe(
      'filter "amount": returns double, not bool; a filter says whether a row is kept (e.g. status == "open")',
    );
  });
});

describe('evaluation on text values', () => {
  test('typed columns, sid and op', () => {
    const b = bind(
      'status == "open" && amount > 10.0 && id == 7 && active && created > timestamp("2024-05-01T07:00:00Z") && data.tier == "gold" && sid == "tenant1" && op == "insert"',
      {
        email: 'email.lowerAscii()',
        tag: 'sid + ":" + string(id)',
        big: 'amount > 100.0',
        size: 'size(photo)',
      },
    );
    expect(b.filter!.reads).toEqual([0, 1, 2, 4, 5, 6]);
    expect(b.filter!.test(at(row), 'insert')).toBe(true);
    expect(b.filter!.test(at(row), 'update')).toBe(false);
    expect(b.computed.map((c) => [c.name, c.typeOid, c.value(at(row), 'insert')])).toEqual([
      ['email', 25, 'ann@example.com'],
      ['tag', 25, 'tenant1:7'],
      ['big', 16, 'f'],
      ['size', 20, '2'],
    ]);
  });

  test('NULL: a test for null compiles; a comparison with NULL fails closed at run time', () => {
    const nulls = row.slice();
    nulls[2] = null;
    expect(bind('amount == null || amount > 10.0').filter!.test(at(nulls), 'insert')).toBe(true);
    const strictFilter = bind('amount > 10.0').filter!;
    expect(() => strictFilter.test(at(nulls), 'insert')).toThrow(
      /filter "amount > 10.0": no such overload: dyn<null> > double/,
    );
  });
});

describe('values', () => {
  test('timestamps in PostgreSQL output', () => {
    expect(parseTimestamp('2024-05-01 10:00:00.123456+02').toISOString()).toBe(
      '2024-05-01T08:00:00.123Z',
    );
    expect(parseTimestamp('2024-05-01 10:00:00').toISOString()).toBe('2024-05-01T10:00:00.000Z');
    expect(parseTimestamp('2024-05-01').toISOString()).toBe('2024-05-01T00:00:00.000Z');
    expect(parseTimestamp('1900-01-01 00:00:00+05:30').toISOString()).toBe(
      '1899-12-31T18:30:00.000Z',
    );
  });

  test('round trips', () => {
    expect(toCel('-9223372036854775808', 'int')).toBe(-9223372036854775808n);
    expect(fromCel(toCel('\\xdeadbeef', 'bytes'))).toBe('\\xdeadbeef');
    expect(fromCel(toCel('{"a":[1,2]}', 'map'))).toBe('{"a":[1,2]}');
    expect(fromCel(Number.NaN)).toBe('NaN');
    expect(fromCel(true)).toBe('t');
    expect(fromCel(null)).toBeNull();
  });
});

describe('the copy pre-filter pushed to the source', () => {
  const sql = (filter: string) => bind(filter).filter!.sql;

  test('comparisons keep NULLs for the process to decide; numeric compares as float8', () => {
    expect(sql('status == "open" && amount >= 10.0')).toBe(
      `(("status" = 'open') IS NOT FALSE) AND (("amount"::float8 >= '10'::float8) IS NOT FALSE)`,
    );
    expect(sql('10 < id || id in [1, 2]')).toBe(
      '((id > 10) IS NOT FALSE) OR ((id IN (1, 2)) IS NOT FALSE)'.replace(/id/g, '"id"'),
    );
    expect(sql('active')).toBe('"active" IS NOT FALSE');
  });

  test('what does not translate exactly is left to the process', () => {
    // Untranslated conjuncts are dropped (the rest still filters); a disjunction needs both sides.
    expect(sql('status == "open" && email.startsWith("a")')).toBe(
      `(("status" = 'open') IS NOT FALSE)`,
    );
    expect(sql('status == "open" || email.startsWith("a")')).toBeUndefined();
    // Negations, string ordering, int against double, timestamps: not pushed.
    expect(sql('!(status == "open")')).toBeUndefined();
    expect(sql('status < "b"')).toBeUndefined();
    expect(sql('id > 1.5')).toBeUndefined();
    expect(sql('created > timestamp("2024-01-01T00:00:00Z")')).toBeUndefined();
    expect(sql('sid == "tenant1"')).toBeUndefined();
  });
});
