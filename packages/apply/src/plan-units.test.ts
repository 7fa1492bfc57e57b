import { describe, expect, test } from 'vitest';
import { type ChangeTuple, UNCHANGED } from './change.js';
import { type PlanItem, planUnit } from './plan-units.js';
import { resolveShape } from './shape.js';
import type { TableType } from './target-ddl.js';
import { fakeTarget } from './testing/fake-target.js';

const relation = {
  schema: 'public',
  table: 't',
  replicaIdentity: 'default' as const,
  columns: [
    { name: 'id', typeOid: 23, isKey: true },
    { name: 'v', typeOid: 25, isKey: false },
  ],
};

type Op = ['I' | 'U' | 'D', ChangeTuple, (ChangeTuple | undefined)?, number?];

function items(type: TableType, ops: Op[]): PlanItem<string>[] {
  const shape = resolveShape(
    relation,
    fakeTarget(type, [
      ['id', 'integer'],
      ['v', 'text'],
    ]),
  );
  return ops.map(([op, a, b, tx], i) => {
    const base = { shape, tx: BigInt(tx ?? i), time: `t${tx ?? i}`, quiet: false, ref: `#${i}` };
    if (op === 'I') return { ...base, op: 'insert', newT: a };
    if (op === 'U') return { ...base, op: 'update', newT: a, whereT: b ?? a };
    return { ...base, op: 'delete', whereT: a };
  });
}

/** Rounds as compact strings: kind, refs, values. */
function summary(type: TableType, ops: Op[]): string[][] {
  const plan = planUnit(items(type, ops), type);
  const out: string[][] = [];
  for (const b of plan.blocks) {
    if (b.kind !== 'rows') continue;
    for (const round of b.rounds) {
      out.push(
        round.map(
          (o) =>
            `${o.kind[0]}${o.refs.join('')}:${(o.whereT ?? []).map(String).join('/')}>${(o.newT ?? []).map((v) => (v === UNCHANGED ? 'U' : String(v))).join('/')}`,
        ),
      );
    }
  }
  return out;
}

describe('planUnit', () => {
  const cases: { name: string; type: TableType; ops: Op[]; rounds: string[][] }[] = [
    {
      name: 'distinct keys share one round',
      type: 'clone',
      ops: [
        ['I', ['1', 'a']],
        ['I', ['2', 'b']],
        ['D', ['3', null]],
      ],
      rounds: [['i#0:>1/a', 'i#1:>2/b', 'd#2:3/null>']],
    },
    {
      name: 'clone folds consecutive updates of a key; unchanged TOAST keeps the earlier value',
      type: 'clone',
      ops: [
        ['U', ['1', 'a']],
        ['U', ['1', UNCHANGED]],
        ['U', ['2', 'x']],
      ],
      rounds: [['u#0#1:1/a>1/a', 'u#2:2/x>2/x']],
    },
    {
      name: 'insert then update of one key: two rounds (an insert conflict must not swallow the update)',
      type: 'clone',
      ops: [
        ['I', ['1', 'a']],
        ['U', ['1', 'b']],
      ],
      rounds: [['i#0:>1/a'], ['u#1:1/b>1/b']],
    },
    {
      name: 'a key change touches both keys',
      type: 'clone',
      ops: [
        ['U', ['2', 'a'], ['1', null]],
        ['I', ['1', 'new']],
        ['U', ['2', 'b']],
      ],
      rounds: [['u#0:1/null>2/a'], ['i#1:>1/new', 'u#2:2/b>2/b']],
    },
    {
      name: 'history folds one transaction per key into one version',
      type: 'history',
      ops: [
        ['I', ['1', 'a'], undefined, 7],
        ['U', ['1', 'b'], undefined, 7],
        ['U', ['1', 'c'], undefined, 8],
        ['U', ['1', 'd'], undefined, 8],
      ],
      rounds: [['i#0#1:>1/b'], ['u#2#3:1/c>1/d']],
    },
    {
      name: 'history: inserted and deleted in one transaction leaves nothing; delete then insert becomes an update',
      type: 'history',
      ops: [
        ['I', ['5', 'x'], undefined, 1],
        ['D', ['5', null], undefined, 1],
        ['D', ['6', null], undefined, 2],
        ['I', ['6', 'y'], undefined, 2],
      ],
      rounds: [['u#2#3:6/null>6/y']],
    },
    {
      name: 'history: a key change chain in one transaction closes the first key and opens the last',
      type: 'history',
      ops: [
        ['U', ['2', 'a'], ['1', null], 3],
        ['U', ['3', 'b'], ['2', null], 3],
      ],
      rounds: [['u#0#1:1/null>3/b']],
    },
  ];
  test.each(cases)('$name', ({ type, ops, rounds }) => {
    expect(summary(type, ops)).toEqual(rounds);
  });

  test('append ignores deletes and truncates; truncate splits blocks', () => {
    const its = items('append', [
      ['I', ['1', 'a']],
      ['D', ['1', null]],
    ]);
    its.push({ op: 'truncate', tx: 9n, time: 't9', quiet: false, ref: '#t' });
    const plan = planUnit(its, 'append');
    expect(plan.ignored).toEqual(['#1', '#t']);
    const clone = planUnit(
      [
        ...items('clone', [['I', ['1', 'a']]]),
        { op: 'truncate', tx: 9n, time: 't9', quiet: false, ref: '#t' },
        ...items('clone', [['I', ['1', 'b']]]),
      ],
      'clone',
    );
    expect(clone.blocks.map((b) => b.kind)).toEqual(['rows', 'truncate', 'rows']);
  });

  test('a source table without replica identity: all inserts in one round, even equal rows', () => {
    const keyless = { ...relation, columns: relation.columns.map((c) => ({ ...c, isKey: false })) };
    const shape = resolveShape(
      keyless,
      fakeTarget('append', [
        ['id', 'integer'],
        ['v', 'text'],
      ]),
    );
    const its: PlanItem<string>[] = [
      ['1', 'a'],
      ['1', 'a'],
      ['2', 'b'],
    ].map((newT, i) => ({
      op: 'insert',
      shape,
      newT,
      tx: BigInt(i),
      time: `t${i}`,
      quiet: false,
      ref: `#${i}`,
    }));
    const plan = planUnit(its, 'append');
    expect(plan.blocks).toHaveLength(1);
    const block = plan.blocks[0]!;
    expect(block.kind === 'rows' && block.rounds.map((r) => r.flatMap((o) => o.refs))).toEqual([
      ['#0', '#1', '#2'],
    ]);
  });
});
