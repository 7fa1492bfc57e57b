import { linkTables } from '@kuvasz/core';
import { describe, expect, test } from 'vitest';
import { type ChangeTuple, UNCHANGED } from '../change.js';
import type { TableType } from '../target/target-ddl.js';
import type { TargetInfo } from '../target/target-meta.js';
import { fakeTarget } from '../testing/fake-target.js';
import { type GroupChange, type GroupPlan, type PlanUnit, planGroup } from './group-plan.js';
import type { PlanItem, PlannedOp } from './plan-units.js';
import { resolveShape } from './shape.js';

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

const unitOf = (target: TargetInfo): PlanUnit => ({ target });

function single<R>(type: TableType, list: PlanItem<R>[]): GroupPlan<PlanUnit, R> {
  const unit = unitOf(list.find((i) => i.op !== 'truncate')?.shape.target ?? fakeTarget(type, []));
  return planGroup(list.map((item) => ({ unit, item })));
}

/** Operations by level, in source order within a level. */
function levels<R>(plan: GroupPlan<PlanUnit, R>): PlannedOp<R>[][] {
  const out: PlannedOp<R>[][] = [];
  for (const t of plan.tasks) {
    if (t.kind === 'truncate') continue;
    for (const o of t.ops) {
      const level = out[o.level!];
      if (level) level.push(o);
      else out[o.level!] = [o];
    }
  }
  return out.filter(Boolean).map((l) => l.sort((a, b) => a.seq - b.seq));
}

/** Levels as compact strings: kind, refs, values. */
function summary(type: TableType, ops: Op[]): string[][] {
  return levels(single(type, items(type, ops))).map((level) =>
    level.map(
      (o) =>
        `${o.kind[0]}${o.refs.join('')}:${(o.whereT ?? []).map(String).join('/')}>${(o.newT ?? []).map((v) => (v === UNCHANGED ? 'U' : String(v))).join('/')}`,
    ),
  );
}

describe('planGroup, one table', () => {
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

  test('append ignores deletes and truncates; truncate splits the group', () => {
    const its = items('append', [
      ['I', ['1', 'a']],
      ['D', ['1', null]],
    ]);
    its.push({ op: 'truncate', tx: 9n, time: 't9', quiet: false, ref: '#t' });
    const plan = single('append', its);
    expect(plan.ignored.flatMap((g) => g.refs)).toEqual(['#1', '#t']);
    const clone = single('clone', [
      ...items('clone', [['I', ['1', 'a']]]),
      { op: 'truncate', tx: 9n, time: 't9', quiet: false, ref: '#t' },
      ...items('clone', [['I', ['1', 'b']]]),
    ]);
    expect(clone.tasks.map((t) => t.kind)).toEqual(['insert', 'truncate', 'insert']);
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
    const plan = single('append', its);
    expect(plan.tasks).toHaveLength(1);
    expect(levels(plan).map((l) => l.flatMap((o) => o.refs))).toEqual([['#0', '#1', '#2']]);
  });
});

/**
 * Several tables related by foreign keys: `accounts` (parent) and `invoices`
 * (child, references accounts), `notes` (unrelated), `tree` (references
 * itself). Each case lists a group's changes in source order and the tasks
 * the plan runs, in order, as `phase table: refs`.
 */
describe('planGroup, tables related by foreign keys', () => {
  const names = ['accounts', 'invoices', 'notes', 'tree'] as const;
  type Name = (typeof names)[number];
  const targets = new Map<Name, TargetInfo>(
    names.map((n) => {
      const t = fakeTarget('clone', [
        ['id', 'integer'],
        ['v', 'text'],
      ]);
      return [n, { ...t, display: n, ref: { schema: 'public', table: n } }];
    }),
  );
  const links = linkTables(
    [...targets.values()],
    [
      { child: targets.get('invoices')!, parent: targets.get('accounts')! },
      { child: targets.get('tree')!, parent: targets.get('tree')! },
    ],
  );
  for (const [t, l] of links) t.links = l;
  const units = new Map<Name, PlanUnit>(names.map((n) => [n, { target: targets.get(n)! }]));

  type Change = [Name, 'I' | 'U' | 'D', string, string?];
  function group(changes: Change[]): GroupChange<PlanUnit, string>[] {
    return changes.map(([name, op, id, v], i) => {
      const unit = units.get(name)!;
      const shape = resolveShape(relation, unit.target);
      const base = {
        shape,
        tx: BigInt(i),
        time: `t${i}`,
        quiet: false,
        ref: `${op}${name[0]}${id}`,
      };
      const row = [id, v ?? null];
      const item: PlanItem<string> =
        op === 'I'
          ? { ...base, op: 'insert', newT: row }
          : op === 'U'
            ? { ...base, op: 'update', newT: row, whereT: row }
            : { ...base, op: 'delete', whereT: [id, null] };
      return { unit, item };
    });
  }
  const tasks = (changes: Change[], exact = false) =>
    planGroup(group(changes), { exact }).tasks.map((t) =>
      t.kind === 'truncate'
        ? 'truncate'
        : `${t.kind} ${t.unit.target.display}: ${t.ops.flatMap((o) => o.refs).join(' ')}`,
    );

  const cases: { name: string; changes: Change[]; tasks: string[] }[] = [
    {
      name: 'parents and children inserted, then deleted: children deleted first',
      changes: [
        ['accounts', 'I', '1'],
        ['invoices', 'I', '10', 'a1'],
        ['accounts', 'I', '2'],
        ['invoices', 'I', '20', 'a2'],
        ['invoices', 'D', '10'],
        ['accounts', 'D', '1'],
      ],
      tasks: [
        'insert accounts: Ia1 Ia2',
        'insert invoices: Ii10 Ii20',
        'delete invoices: Di10',
        'delete accounts: Da1',
      ],
    },
    {
      name: 'a child pointed at a parent inserted earlier: the update waits for the insert',
      changes: [
        ['accounts', 'I', '3'],
        ['invoices', 'U', '10', 'a3'],
      ],
      tasks: ['insert accounts: Ia3', 'update invoices: Ui10'],
    },
    {
      name: 'a child moved away from a parent, then the parent deleted',
      changes: [
        ['invoices', 'U', '10', 'a2'],
        ['accounts', 'D', '1'],
      ],
      tasks: ['update invoices: Ui10', 'delete accounts: Da1'],
    },
    {
      name: 'a child deleted, its parent deleted and inserted again, a child inserted again',
      changes: [
        ['invoices', 'I', '5', 'a1'],
        ['invoices', 'D', '5'],
        ['accounts', 'D', '1'],
        ['accounts', 'I', '1'],
        ['invoices', 'I', '5', 'a1'],
      ],
      tasks: [
        'insert invoices: Ii5',
        'delete invoices: Di5',
        'delete accounts: Da1',
        'insert accounts: Ia1',
        'insert invoices: Ii5',
      ],
    },
    {
      name: 'unrelated tables share levels whatever their interleaving',
      changes: [
        ['notes', 'I', '1'],
        ['accounts', 'I', '1'],
        ['notes', 'D', '7'],
        ['accounts', 'U', '2'],
        ['notes', 'I', '2'],
      ],
      tasks: [
        'delete notes: Dn7',
        'update accounts: Ua2',
        'insert accounts: Ia1',
        'insert notes: In1 In2',
      ],
    },
    {
      name: 'a table referencing itself: an update pointing at a row inserted earlier waits for it',
      changes: [
        ['tree', 'I', '1'],
        ['tree', 'I', '2', 't1'],
        ['tree', 'U', '3', 't2'],
        ['tree', 'D', '4'],
      ],
      tasks: ['insert tree: It1 It2', 'update tree: Ut3', 'delete tree: Dt4'],
    },
  ];
  test.each(cases)('$name', ({ changes, tasks: expected }) => {
    expect(tasks(changes)).toEqual(expected);
  });

  test('exact: one change per task, in source order', () => {
    const changes: Change[] = [
      ['invoices', 'D', '10'],
      ['accounts', 'I', '1'],
      ['notes', 'U', '1'],
      ['accounts', 'U', '1'],
    ];
    expect(tasks(changes, true)).toEqual([
      'delete invoices: Di10',
      'insert accounts: Ia1',
      'update notes: Un1',
      'update accounts: Ua1',
    ]);
  });
});
