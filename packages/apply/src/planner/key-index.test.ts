import { describe, expect, test } from 'vitest';
import type { TargetInfo } from '../target/target-meta.js';
import { fakeTarget } from '../testing/fake-target.js';
import type { PlannedOp } from './plan-units.js';
import { resolveShape } from './shape.js';
import {
  closeAndReopen,
  closeVersions,
  deleteRows,
  insertRows,
  insertVersions,
  updateRows,
} from './statements.js';

const rel = (identity: 'default' | 'full', keyType = 23) => ({
  schema: 'public',
  table: 't',
  replicaIdentity: identity,
  columns: [
    { name: 'id', typeOid: keyType, isKey: true },
    { name: 'v', typeOid: 25, isKey: false },
  ],
});

const target = (
  indexes: TargetInfo['indexes'],
  keyEq = true,
  type: 'clone' | 'history' = 'clone',
) => ({
  ...fakeTarget(type, [
    ['id', 'integer', keyEq],
    ['v', 'text'],
  ]),
  indexes,
});

const op = (kind: PlannedOp<string>['kind']): PlannedOp<string> => ({
  kind,
  newT: kind === 'delete' ? undefined : ['1', 'x'],
  whereT: kind === 'insert' ? undefined : ['1', null],
  keyChanged: false,
  seq: 0,
  time: '2024-01-01 00:00:00+00',
  quiet: false,
  refs: ['r'],
});

describe('index probes by key', () => {
  test.each([
    ['(sid, id)', [{ columns: ['sid', 'id'], open: false }], 'any'],
    ['(id, sid, v)', [{ columns: ['id', 'sid', 'v'], open: false }], 'any'],
    ['(id) without sid', [{ columns: ['id'], open: false }], 'any'],
    [
      '(sid, v, id): v interrupts the key',
      [{ columns: ['sid', 'v', 'id'], open: false }],
      undefined,
    ],
    ['(sid) only', [{ columns: ['sid'], open: false }], undefined],
    ['open versions only', [{ columns: ['sid', 'id'], open: true }], 'open'],
    [
      'open versions and a plain one',
      [
        { columns: ['sid', 'id'], open: true },
        { columns: ['id'], open: false },
      ],
      'any',
    ],
    ['none', [], undefined],
  ] as [string, TargetInfo['indexes'], string | undefined][])(
    'index %s gives keyIndex %s',
    (_name, indexes, expected) => {
      expect(resolveShape(rel('default'), target(indexes)).keyIndex).toBe(expected);
    },
  );

  test('no index probe under FULL, or for a key compared through text', () => {
    const ix = [{ columns: ['sid', 'id'], open: false }];
    expect(resolveShape(rel('full'), target(ix)).keyIndex).toBeUndefined();
    expect(resolveShape(rel('default'), target(ix, false)).keyIndex).toBeUndefined();
  });

  test('nested loops only where every join to the target is a probe by key', () => {
    const any = resolveShape(rel('default'), target([{ columns: ['sid', 'id'], open: false }]));
    expect(deleteRows(any, '1', [op('delete')]).nestedLoop).toBe(true);
    expect(updateRows(any, '1', [op('update')]).nestedLoop).toBe(true);
    expect(insertRows(any, '1', [op('insert')], true).nestedLoop).toBe(true);
    const arbiter = resolveShape(rel('default'), {
      ...target([{ columns: ['sid', 'id'], open: false }]),
      uniqueKeys: [['sid', 'id']],
    });
    // The ON CONFLICT form anti-joins the batch with what it inserted: never nested loops.
    expect(insertRows(arbiter, '1', [op('insert')], true).nestedLoop).toBeFalsy();
    const none = resolveShape(rel('default'), target([]));
    expect(deleteRows(none, '1', [op('delete')]).nestedLoop).toBe(false);
    expect(updateRows(none, '1', [op('update')]).nestedLoop).toBe(false);

    const open = resolveShape(
      rel('default'),
      target([{ columns: ['sid', 'id'], open: true }], true, 'history'),
    );
    expect(closeVersions(open, '1', [op('delete')]).nestedLoop).toBe(true);
    // These join the batch with itself (ords, CTE semi-joins).
    expect(insertVersions(open, '1', [op('insert')]).nestedLoop).toBeFalsy();
    expect(closeAndReopen(open, '1', [op('update')]).nestedLoop).toBeFalsy();
    const plain = resolveShape(rel('default'), target([], true, 'history'));
    expect(closeVersions(plain, '1', [op('delete')]).nestedLoop).toBe(false);
  });

  test('length-limited types are cast without their length, so a longer value is rejected, not cut', () => {
    const t = {
      ...fakeTarget('clone', [
        ['id', 'integer'],
        ['v', 'character varying(3)'],
      ]),
    };
    t.columns.get('v')!.typeOid = 1043;
    const shape = resolveShape(rel('default'), t);
    const st = updateRows(shape, '1', [op('update')]);
    expect(st.text).toContain('"v" = s.v1::pg_catalog.varchar');
    expect(st.text).not.toContain('varying(3)');
  });
});
