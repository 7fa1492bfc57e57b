import { describe, expect, it } from 'vitest';
import type { ColumnInfo, RelationInfo } from './catalog.js';
import { copyColumns, mapColumns } from './column-mapping.js';

const col = (name: string, extra: Partial<ColumnInfo> = {}): ColumnInfo => ({
  name,
  type: 'text',
  typeOid: 25,
  notNull: false,
  generated: false,
  identity: '',
  ...extra,
});
const rel = (columns: ColumnInfo[]): RelationInfo => ({
  ref: { schema: 's', table: 't' },
  oid: 1,
  kind: 'r',
  columns,
  primaryKey: [],
  uniqueKey: [],
});

describe('column mapping', () => {
  it('copies the intersection by name, skips generated and managed columns', () => {
    const source = rel([
      col('id'),
      col('Mixed Case'),
      col('src_only'),
      col('gen_src', { generated: true }),
      col('sid'),
      col('g'),
    ]);
    const target = rel([
      col('sid'),
      col('id', { identity: 'a' }),
      col('Mixed Case'),
      col('dst_only'),
      col('gen_src'),
      col('g', { generated: true }),
      col('kvsz_start'),
    ]);
    const { mapping, problems } = mapColumns(source, target, 'clone');
    expect(problems).toEqual([]);
    expect(mapping.copied).toEqual(['id', 'Mixed Case']);
    expect(mapping.defaulted).toEqual(['dst_only', 'gen_src']);
    expect(mapping.dropped).toEqual(['src_only', 'gen_src', 'g']);
    expect(mapping.hasSid).toBe(true);
    expect(mapping.overridingSystemValue).toBe(true);
  });

  it('reports targets that cannot receive the source', () => {
    expect(mapColumns(rel([col('a')]), rel([col('b')]), 'clone').problems[0]?.message).toMatch(
      /no column in common/,
    );
    const h = mapColumns(rel([col('a')]), rel([col('a'), col('kvsz_start')]), 'history').problems;
    expect(h[0]?.message).toMatch(/add kvsz_end, kvsz_deleted/);
  });

  it('adds sid and history constants, quoted and escaped', () => {
    const { mapping } = mapColumns(
      rel([col('a"b'), col('select')]),
      rel([col('sid'), col('a"b'), col('select')]),
      'history',
    );
    expect(copyColumns(mapping, "it's", true)).toEqual({
      targetColumns: ['a"b', 'select', 'sid', 'kvsz_start', 'kvsz_end', 'kvsz_deleted'],
      selectList: `"a""b", "select", 'it''s', '1900-01-01 00:00:00+00', '9999-01-01 00:00:00+00', false`,
    });
    expect(copyColumns(mapping, '1', false).targetColumns).toEqual(['a"b', 'select', 'sid']);
  });
});
