import { describe, expect, it } from 'vitest';
import {
  copyInSql,
  copyOutSql,
  deleteSourceRowsSql,
  historyMergeSql,
  upsertSql,
} from './merge-sql.js';

describe('merge SQL', () => {
  it('COPY statements quote every identifier', () => {
    expect(copyOutSql('"a", \'1\'', '"s.x"."T"', "ctid < '(8,0)'::tid")).toBe(
      `COPY (SELECT "a", '1' FROM "s.x"."T" WHERE ctid < '(8,0)'::tid) TO STDOUT`,
    );
    expect(copyInSql('"d"."t"', ['a', 'Order'])).toBe('COPY "d"."t" ("a", "Order") FROM STDIN');
  });

  it('upserts on the key and updates the other columns', () => {
    expect(
      upsertSql({
        target: 't',
        staging: 's',
        columns: ['sid', 'id', 'v'],
        key: ['sid', 'id'],
        overridingSystemValue: true,
      }),
    ).toBe(
      'INSERT INTO t ("sid", "id", "v") OVERRIDING SYSTEM VALUE SELECT "sid", "id", "v" FROM s ON CONFLICT ("sid", "id") DO UPDATE SET "v" = EXCLUDED."v"',
    );
    expect(
      upsertSql({
        target: 't',
        staging: 's',
        columns: ['id'],
        key: ['id'],
        overridingSystemValue: false,
      }),
    ).toMatch(/DO NOTHING$/);
  });

  it('deletes one sid, or truncates a target without sid', () => {
    expect(deleteSourceRowsSql('t', "a'b")).toBe(`DELETE FROM t WHERE "sid" = 'a''b'`);
    expect(deleteSourceRowsSql('t', undefined)).toBe('TRUNCATE t');
  });

  it('history merge touches only open versions of this sid and compares values as text', () => {
    const [close, open] = historyMergeSql({
      target: 't',
      staging: 's',
      columns: ['id', 'v'],
      key: ['id'],
      sid: '3',
      time: '2030-01-01T00:00:00.000Z',
      overridingSystemValue: false,
    });
    expect(close).toContain(`WHERE t."sid" = '3' AND t."kvsz_end" = '9999-01-01 00:00:00+00'`);
    expect(close).toContain('s."v"::text IS NOT DISTINCT FROM t."v"::text');
    expect(close).toContain(`"kvsz_end" = '2030-01-01T00:00:00.000Z'`);
    expect(open).toContain(
      `SELECT s."id", s."v", s."sid", '2030-01-01T00:00:00.000Z', '9999-01-01 00:00:00+00', false FROM s s`,
    );
  });
});
