import { describe, expect, test } from 'vitest';
import { type ChangeTuple, UNCHANGED } from '../change.js';
import { fakeTarget } from '../testing/fake-target.js';
import type { PlannedOp } from './plan-units.js';
import { resolveShape } from './shape.js';
import { stagingName } from './statement-parts.js';
import {
  arrayLiteral,
  closeAndReopen,
  closeVersions,
  deleteRows,
  insertRows,
  insertVersions,
  truncateRows,
  updateOrInsertRows,
  updateRows,
} from './statements.js';

const rel = (identity: 'default' | 'full') => ({
  schema: 'public',
  table: 't',
  replicaIdentity: identity,
  columns: [
    { name: 'id', typeOid: 23, isKey: true },
    { name: 'Doc', typeOid: 114, isKey: false },
    { name: 'only_in_source', typeOid: 25, isKey: false },
  ],
});

const op = (
  kind: PlannedOp<string>['kind'],
  newT?: ChangeTuple,
  whereT?: ChangeTuple,
): PlannedOp<string> => ({
  kind,
  newT,
  whereT,
  keyChanged: false,
  seq: 0,
  time: '2024-01-01 00:00:00+00',
  quiet: false,
  refs: ['r'],
});

const times = <T>(n: number, x: T): T[] => Array.from({ length: n }, () => x);

describe('statement builders', () => {
  const target = (type: 'clone' | 'history', sid = true) =>
    fakeTarget(
      type,
      [
        ['id', 'integer'],
        ['Doc', 'json', false],
      ],
      sid,
    );
  const key = resolveShape(rel('default'), target('clone'));
  const full = resolveShape(rel('full'), target('clone'));
  const hist = resolveShape(rel('default'), target('history'));
  const nosid = resolveShape(rel('default'), target('clone', false));

  test('only shared columns take part; identifiers are quoted; values travel as text', () => {
    const st = insertRows(key, '7', [op('insert', ['1', '{"a":1}', 'x'])], true);
    expect(st.values).toEqual(['7', '1', '{"a":1}']);
    expect(st.text).toContain('INSERT INTO "public"."t" (sid, "id", "Doc")');
    expect(st.text).toContain('s.v0::integer, s.v1::json');
    expect(st.text).toContain('t.sid = (SELECT $1::text) AND t."id" = s.v0::integer');
    expect(st.text).not.toContain('only_in_source');
    const arb = resolveShape(rel('default'), { ...target('clone'), uniqueKeys: [['id', 'sid']] });
    expect(arb.arbiter).toEqual(['id', 'sid']);
    const withArbiter = insertRows(arb, '7', [op('insert', ['1', '{}', 'x'])], true);
    expect(withArbiter.text).toContain('ON CONFLICT ("id", "sid") DO NOTHING RETURNING "id"');
    expect(withArbiter.text).toContain('NOT EXISTS (SELECT 1 FROM i WHERE i."id" = s.v0::integer)');
    expect(
      resolveShape(rel('default'), { ...target('clone'), uniqueKeys: [['id']] }).arbiter,
    ).toBeUndefined();
  });

  const cases = [
    {
      name: 'key update: WHERE from the old key, SET every shared column',
      st: (n: number) =>
        updateRows(key, '1', times(n, op('update', ['2', '{}', 'x'], ['1', null, null]))),
      has: [
        'SET "id" = s.v0::integer, "Doc" = s.v1::json',
        't."id" = s.k0::integer',
        'RETURNING s.ord',
      ],
      values: ['1', ['2'], ['{}'], ['1']],
    },
    {
      name: 'update inserting what it missed: arbiter, never a row with unchanged TOAST',
      st: (n: number) =>
        updateOrInsertRows(
          resolveShape(rel('default'), { ...target('clone'), uniqueKeys: [['sid', 'id']] }),
          '1',
          times(n, op('update', ['1', UNCHANGED, 'x'], ['1', null, null])),
        ),
      has: [
        'x AS MATERIALIZED (SELECT s.* FROM s WHERE s.ord NOT IN (SELECT u.ord FROM u))',
        'SELECT $1::text, x.v0::integer, x.v1::json FROM x WHERE x.m IS NULL ON CONFLICT ("sid", "id") DO NOTHING RETURNING "id"',
        `WHEN (x.v0::integer) IN (SELECT "id" FROM i) THEN 'inserted' ELSE 'conflict'`,
      ],
      values: ['1', ['1'], [null], ['01'], ['1']],
    },
    {
      name: 'unchanged TOAST keeps the existing value through a mask',
      st: (n: number) =>
        updateRows(key, '1', times(n, op('update', ['1', UNCHANGED, 'x'], ['1', UNCHANGED, 'x']))),
      has: [`CASE WHEN substr(s.m, 2, 1) = '1' THEN t."Doc" ELSE s.v1::json END`],
      values: ['1', ['1'], [null], ['01'], ['1']],
    },
    {
      name: 'FULL: NULL-safe match, json through text, one row picked by ctid',
      st: (n: number) => deleteRows(full, '1', times(n, op('delete', undefined, ['1', null, 'x']))),
      has: [
        't."id" IS NOT DISTINCT FROM s.k0::integer',
        't."Doc"::text IS NOT DISTINCT FROM (s.k1::json)::text',
        'LIMIT 1',
        't.ctid = l.tid',
      ],
      values: ['1', ['1'], [null]],
    },
    {
      name: 'no sid column: no sid condition, truncate is a TRUNCATE',
      st: (n: number) =>
        deleteRows(nosid, '1', times(n, op('delete', undefined, ['1', null, null]))),
      has: ['WHERE t."id" = s.k0::integer'],
      values: [['1']],
    },
    {
      name: 'history close: open versions only, commit time from the source',
      st: (n: number) =>
        closeVersions(hist, '1', times(n, op('delete', undefined, ['1', null, null]))),
      has: [
        `t.kvsz_end = '9999-01-01 00:00:00+00'::timestamptz`,
        'kvsz_end = s.tm::timestamptz, kvsz_deleted = s.del',
      ],
      values: ['1', ['1'], ['2024-01-01 00:00:00+00'], [true]],
    },
    {
      name: 'history update keeping its key: close and reopen in one statement, closes first',
      st: (n: number) =>
        closeAndReopen(hist, '1', times(n, op('update', ['1', '{}', null], ['1', null, null]))),
      has: [
        `c AS (UPDATE "public"."t" t SET kvsz_end = s.tm::timestamptz`,
        `SELECT $1::text, s.v0::integer, s.v1::json, s.tm::timestamptz, '9999-01-01 00:00:00+00'::timestamptz, false FROM s WHERE s.ord IN (SELECT c.ord FROM c)`,
      ],
      values: ['1', ['1'], ['{}'], ['1'], ['2024-01-01 00:00:00+00']],
    },
    {
      name: 'history open: probe of the last version decides 1900-01-01 or the commit time',
      st: (n: number) => insertVersions(hist, '1', times(n, op('insert', ['1', '{}', null]))),
      has: [
        `max(t.kvsz_end)`,
        `THEN '1900-01-01 00:00:00+00'::timestamptz ELSE s.tm::timestamptz END`,
      ],
      values: ['1', ['1'], ['{}'], ['2024-01-01 00:00:00+00'], ['I']],
    },
  ];
  test.each(cases)('$name', ({ st, has, values }) => {
    const many = st(2);
    for (const h of has) expect(many.text).toContain(h);
    expect(many.text).toContain('WITH ORDINALITY');
    expect(many.values).toEqual(
      values.map((v) => (Array.isArray(v) ? arrayLiteral([...v, ...v]) : v)),
    );
    // One change: the same statement over scalar parameters (no array to parse, no unnest).
    const one = st(1);
    for (const h of has) expect(one.text).toContain(h);
    expect(one.text).not.toContain('unnest');
    expect(one.text).toContain('1::bigint AS ord)');
    expect(one.values).toEqual(values.map((v) => (Array.isArray(v) ? v[0] : v)));
  });

  test('array literals quote every element and escape only quotes and backslashes', () => {
    expect(arrayLiteral(['a', null, '', 'x"y', 'b\\c', 'NULL', '{,}', ' sp '])).toBe(
      '{"a",NULL,"","x\\"y","b\\\\c","NULL","{,}"," sp "}',
    );
    expect(arrayLiteral([true, false])).toBe('{"true","false"}');
  });

  test('truncate per type', () => {
    expect(truncateRows(target('clone'), '3', 'T')).toEqual({
      text: 'DELETE FROM "public"."t" WHERE sid = $1::text',
      values: ['3'],
    });
    expect(truncateRows(target('clone', false), '3', 'T')).toEqual({
      text: 'TRUNCATE "public"."t"',
      values: [],
    });
    expect(truncateRows(target('history'), '3', 'T').text).toBe(
      `UPDATE "public"."t" SET kvsz_end = $1::timestamptz, kvsz_deleted = true WHERE sid = $2::text AND kvsz_end = '9999-01-01 00:00:00+00'::timestamptz`,
    );
  });
});

describe('staging table names', () => {
  const text = (n: number, extra: string[] = []) => [
    ...Array.from({ length: n }, (_, i) => ({ name: `v${i}`, type: 'text' })),
    ...extra.map((name) => ({ name, type: 'text' })),
  ];
  test('short layouts are named after their columns', () => {
    expect(stagingName([...text(2), { name: 'del', type: 'bool' }])).toBe('kvsz_s_v0_v1_del_bool');
  });
  test('long layouts stay under 63 bytes and apart when only their tail differs', () => {
    const a = stagingName(text(60, ['k0']));
    const b = stagingName(text(60, ['m', 'k0']));
    expect(a.length).toBeLessThanOrEqual(63);
    expect(b.length).toBeLessThanOrEqual(63);
    expect(a).not.toBe(b);
  });
});
