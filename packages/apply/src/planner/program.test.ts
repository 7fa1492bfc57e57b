import { describe, expect, test } from 'vitest';
import type { TargetInfo } from '../target/target-meta.js';
import { fakeTarget } from '../testing/fake-target.js';
import type { PlanUnit, Task } from './group-plan.js';
import type { PlannedOp } from './plan-units.js';
import { type Row, type Step, taskSteps } from './program.js';
import { resolveShape } from './shape.js';

/**
 * The statements of a task and what their answers lead to, without a
 * database: each case gives a task, the rows the destination would answer
 * to each awaited statement, and the statements that must run, in order, as
 * `kind:what` (`hold` for a statement that travels with the next message,
 * `send` for one that is answered before the next step, `copy`), with the
 * events reported.
 */

const relation = {
  schema: 'public',
  table: 't',
  replicaIdentity: 'default' as const,
  columns: [
    { name: 'id', typeOid: 23, isKey: true },
    { name: 'v', typeOid: 25, isKey: false },
  ],
};

function target(type: 'clone' | 'history', arbiter: boolean, keyIndex: boolean): TargetInfo {
  return {
    ...fakeTarget(type, [
      ['id', 'integer'],
      ['v', 'text'],
    ]),
    uniqueKeys: arbiter ? [['sid', 'id']] : [],
    indexes: keyIndex ? [{ columns: ['sid', 'id'], open: type === 'history' }] : [],
  };
}

const op = (kind: PlannedOp<string>['kind'], id: string, ref: string): PlannedOp<string> => ({
  kind,
  newT: kind === 'delete' ? undefined : [id, `v${id}`],
  whereT: kind === 'insert' ? undefined : [id, null],
  keyChanged: false,
  seq: 0,
  time: '2024-01-01 00:00:00+00',
  quiet: false,
  refs: [ref],
});

/** What a statement does, from its SQL text (the builders' own tests check the SQL itself). */
function what(text: string): string {
  if (text.startsWith('SAVEPOINT')) return 'copy-in-savepoint';
  if (text.startsWith('COPY')) return 'copy';
  if (text.includes('DELETE FROM')) return 'delete';
  if (text.includes('x AS MATERIALIZED')) return 'update-or-insert';
  if (text.includes('kvsz_end = s.tm::timestamptz FROM s')) return 'close-and-reopen';
  if (text.includes('kvsz_end = s.tm::timestamptz, kvsz_deleted')) return 'close';
  if (text.includes('p AS MATERIALIZED')) return 'open';
  if (text.includes('AS last_end FROM s')) return 'probe';
  if (text.includes('ON CONFLICT')) return 'insert-detect';
  if (text.includes('u AS (UPDATE')) return 'update';
  if (text.includes('INSERT INTO')) return 'insert';
  return text.slice(0, 20);
}

/** Runs the steps as the executor would, answering awaited statements from `answers` in order. */
function trace(steps: Step<string>[], answers: Row[][]): { ran: string[]; events: string[] } {
  const ran: string[] = [];
  const events: string[] = [];
  const run = (list: Step<string>[]) => {
    for (const s of list) {
      if (s.kind === 'copy') {
        ran.push(`copy:${what(s.copy.text)}:${s.copy.rows}`);
        continue;
      }
      ran.push(`${s.deferred ? 'hold' : 'send'}:${what(s.statement.text)}`);
      if (s.deferred) continue;
      const out = s.after?.(answers.shift() ?? []);
      for (const e of out?.events ?? []) events.push(`${e.kind}:${e.op.refs.join('')}`);
      if (out?.next) run(out.next);
    }
  };
  run(steps);
  return { ran, events };
}

const task = (
  kind: 'delete' | 'update' | 'insert' | 'history',
  t: TargetInfo,
  ops: PlannedOp<string>[],
): Task<PlanUnit, string> => ({ kind, unit: { target: t }, shape: resolveShape(relation, t), ops });

describe('taskSteps', () => {
  const cases: {
    name: string;
    task: Task<PlanUnit, string>;
    copyMinRows?: number;
    answers?: Row[][];
    ran: string[];
    events?: string[];
  }[] = [
    {
      name: 'clone deletes: held, misses only logged',
      task: task('delete', target('clone', true, true), [op('delete', '1', 'a')]),
      ran: ['hold:delete'],
    },
    {
      name: 'clone updates with a (sid, key) unique index: one held statement that inserts what it misses',
      task: task('update', target('clone', true, true), [op('update', '1', 'a')]),
      ran: ['hold:update-or-insert'],
    },
    {
      name: 'clone updates without one: answered, and a missed row is inserted from the new values',
      task: task('update', target('clone', false, true), [
        op('update', '1', 'a'),
        op('update', '2', 'b'),
      ]),
      answers: [[{ ord: 2 }]],
      ran: ['send:update', 'hold:insert'],
      events: ['update_missing:b'],
    },
    {
      name: 'small clone inserts: held with the next message',
      task: task('insert', target('clone', true, true), [op('insert', '1', 'a')]),
      ran: ['hold:insert-detect'],
    },
    {
      name: 'large clone inserts: COPY in a savepoint where a unique index can refuse a row',
      task: task('insert', target('clone', true, true), [
        op('insert', '1', 'a'),
        op('insert', '2', 'b'),
      ]),
      copyMinRows: 1,
      ran: ['copy:copy-in-savepoint:2'],
    },
    {
      name: 'large clone inserts without a unique index: the conflicts are probed first',
      task: task('insert', target('clone', false, true), [
        op('insert', '1', 'a'),
        op('insert', '2', 'b'),
      ]),
      copyMinRows: 1,
      answers: [[{ ord: 1 }]],
      ran: ['send:insert'],
      events: ['insert_conflict:a'],
    },
    {
      name: 'history with an index on the key: versions closed in one held statement, new ones copied',
      task: task('history', target('history', false, true), [
        op('update', '1', 'a'),
        op('delete', '2', 'b'),
      ]),
      ran: ['hold:close', 'copy:copy:1'],
    },
    {
      name: 'history inserts: earlier versions probed, the rest copied, an open one a conflict',
      task: task('history', target('history', false, true), [
        op('insert', '1', 'a'),
        op('insert', '2', 'b'),
        op('insert', '3', 'c'),
      ]),
      answers: [
        [
          { ord: 2, conflict: true },
          { ord: 3, conflict: false },
        ],
      ],
      ran: ['send:probe', 'copy:copy:2'],
      events: ['insert_conflict:b'],
    },
    {
      name: 'history without an index: an update closes and reopens in one statement; a missed one opens anyway',
      task: task('history', target('history', false, false), [op('update', '1', 'a')]),
      answers: [[{ ord: 1 }]],
      ran: ['send:close-and-reopen', 'hold:open'],
      events: ['update_missing:a'],
    },
  ];
  test.each(cases)('$name', (c) => {
    const steps = taskSteps(c.task, {
      sid: '1',
      copyMinRows: c.copyMinRows ?? 100,
      stageMinRows: 100,
    });
    const out = trace(steps, [...(c.answers ?? [])]);
    expect(out.ran).toEqual(c.ran);
    expect(out.events).toEqual(c.events ?? []);
  });
});
