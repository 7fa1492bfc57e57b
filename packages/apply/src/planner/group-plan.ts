import type { Link } from '@kuvasz/core';
import type { TargetInfo } from '../target/target-meta.js';
import {
  collapseHistory,
  hasUnchanged,
  newIdOf,
  overlay,
  type PlanItem,
  type PlannedOp,
  type RowItem,
  toOp,
  whereIdOf,
} from './plan-units.js';
import type { Shape } from './shape.js';

/** What the group planner needs of a (source, target) unit. */
export interface PlanUnit {
  target: TargetInfo;
}

/** One change of a group, for one unit, in source commit order. */
export interface GroupChange<U extends PlanUnit, R> {
  unit: U;
  item: PlanItem<R>;
}

export type Phase = 'delete' | 'update' | 'insert' | 'history';

/** One set-based statement's worth of work: a unit's operations of one phase and level. */
export type Task<U, R> =
  | { kind: 'truncate'; unit: U; time: string; refs: R[] }
  | { kind: Phase; unit: U; shape: Shape; ops: PlannedOp<R>[] };

export interface GroupPlan<U, R> {
  /** In execution order. */
  tasks: Task<U, R>[];
  /** Changes the table type ignores (append: delete, truncate). */
  ignored: { unit: U; refs: R[] }[];
  /** Changes folded away entirely (history: a row inserted and deleted in one transaction). */
  folded: { unit: U; refs: R[] }[];
}

export interface GroupPlanOptions {
  /**
   * One operation per level, in source order, nothing folded: what native
   * replication does, change by change. The fallback for a group whose
   * set-based form the destination refused (see the executor).
   */
  exact?: boolean;
}

/**
 * Plans a group: whole source transactions of one source (or one part of a
 * large one), all applied in one destination transaction, in an order that
 * leaves the same rows as applying the changes one by one.
 *
 * The group is cut into segments at truncates and at relation changes (rare);
 * a segment's operations get levels, and each level runs its deletes (tables
 * referencing others first), then its updates and inserts (referenced tables
 * first), then its history rounds. Within a table, two operations on the same
 * row never share a level (a key change touches two rows), so one statement
 * per (level, table, phase) keeps every row's order. Across tables related by
 * a foreign key, a later operation moves to a later level where running it in
 * its level's phase order could come before an earlier one it depends on (an
 * insert of a parent then an update pointing a child at it; an update moving
 * a child away from a parent then the parent's delete; ...): each destination
 * statement then leaves the foreign keys that held on the source holding.
 * Unrelated tables share levels freely. What set-based order still cannot
 * foresee (a unique constraint other than the key, a cycle of foreign keys
 * through a deferred constraint) the destination rejects, and the executor
 * falls back to `exact`.
 */
export function planGroup<U extends PlanUnit, R>(
  changes: readonly GroupChange<U, R>[],
  options: GroupPlanOptions = {},
): GroupPlan<U, R> {
  const plan: GroupPlan<U, R> = { tasks: [], ignored: [], folded: [] };
  let segment: { unit: U; item: RowItem<R>; seq: number }[] = [];
  const signatures = new Map<U, string>();
  const close = () => {
    if (segment.length > 0) planSegment(segment, plan, options.exact === true);
    segment = [];
    signatures.clear();
  };
  for (let seq = 0; seq < changes.length; seq++) {
    const { unit, item } = changes[seq]!;
    const type = unit.target.type;
    if (item.op === 'truncate') {
      if (type === 'append') addRef(plan.ignored, unit, item.ref);
      else {
        close();
        plan.tasks.push({ kind: 'truncate', unit, time: item.time, refs: [item.ref] });
      }
      continue;
    }
    if (type === 'append' && item.op === 'delete') {
      addRef(plan.ignored, unit, item.ref);
      continue;
    }
    const sig = signatures.get(unit);
    if (sig !== undefined && sig !== item.shape.signature) close();
    signatures.set(unit, item.shape.signature);
    segment.push({ unit, item, seq });
  }
  close();
  return plan;
}

function addRef<U, R>(list: { unit: U; refs: R[] }[], unit: U, ref: R): void {
  const last = list[list.length - 1];
  if (last?.unit === unit) last.refs.push(ref);
  else list.push({ unit, refs: [ref] });
}

/** Per unit while levels are assigned. */
interface UnitLevels<R> {
  shape: Shape;
  /** The last operation that touched each row. */
  last: Map<string, PlannedOp<R>>;
  /** No operation of this unit goes below it (REPLICA IDENTITY FULL with unchanged TOAST). */
  floor: number;
  /** Highest level of an insert, update, delete of this unit so far (-1: none). */
  max: Record<PlannedOp<R>['kind'], number>;
  first: number;
}

function planSegment<U extends PlanUnit, R>(
  segment: { unit: U; item: RowItem<R>; seq: number }[],
  plan: GroupPlan<U, R>,
  exact: boolean,
): void {
  // Operations in source order: one per change, or per history chain. Kept
  // as two parallel arrays (no pair object per change).
  let opUnits: U[] = [];
  let ops: (PlannedOp<R> | undefined)[] = [];
  const byUnit = new Map<U, { item: RowItem<R>; seq: number }[]>();
  for (const s of segment) {
    const list = byUnit.get(s.unit);
    if (list) list.push(s);
    else byUnit.set(s.unit, [s]);
  }
  const states = new Map<U, UnitLevels<R>>();
  const byTarget = new Map<TargetInfo, U>();
  for (const [unit, list] of byUnit) {
    byTarget.set(unit.target, unit);
    states.set(unit, {
      shape: list[0]!.item.shape,
      last: new Map(),
      floor: 0,
      max: { insert: -1, update: -1, delete: -1 },
      first: list[0]!.seq,
    });
    if (unit.target.type === 'history') {
      const folded: R[] = [];
      for (const op of collapseHistory(list, folded)) {
        opUnits.push(unit);
        ops.push(op);
      }
      for (const r of folded) addRef(plan.folded, unit, r);
    } else {
      for (const { item, seq } of list) {
        opUnits.push(unit);
        ops.push(toOp(item, seq));
      }
    }
  }
  if (byUnit.size > 1) {
    const order = ops.map((_, i) => i).sort((a, b) => ops[a]!.seq - ops[b]!.seq);
    opUnits = order.map((i) => opUnits[i]!);
    ops = order.map((i) => ops[i]!);
  }

  let next = 0;
  let top = -1;
  let st: UnitLevels<R> | undefined;
  let stUnit: U | undefined;
  for (let i = 0; i < ops.length; i++) {
    const unit = opUnits[i]!;
    const op = ops[i]!;
    if (unit !== stUnit) {
      st = states.get(unit)!;
      stUnit = unit;
    }
    const shape = st!.shape;
    if (exact) {
      op.level = next++;
      continue;
    }
    const fk = linkFloor(unit, op.kind, states, byTarget);
    let r = Math.max(st!.floor, fk);
    if (shape.keyCols.length > 0) {
      // The rows it touches: one, or two for an update that changes the key.
      let a: string;
      let b: string | undefined;
      if (op.kind === 'insert') a = newIdOf(shape, op);
      else if (op.kind === 'delete') a = whereIdOf(shape, op);
      else {
        a = whereIdOf(shape, op);
        const n = newIdOf(shape, op);
        if (n !== a) b = n;
      }
      const prev = st!.last.get(a);
      if (
        unit.target.type !== 'history' &&
        op.kind === 'update' &&
        !op.keyChanged &&
        prev?.kind === 'update' &&
        !prev.keyChanged &&
        prev.quiet === op.quiet &&
        prev.level! >= fk
      ) {
        // Consecutive updates of a row fold into one: the last values win.
        prev.newT = overlay(prev.newT, op.newT!);
        // Under FULL an unchanged TOAST value is part of the identity, and overlay fills it in.
        prev.newId = undefined;
        prev.time = op.time;
        prev.refs.push(...op.refs);
        ops[i] = undefined;
        continue;
      }
      if (prev) r = Math.max(r, prev.level! + 1);
      if (b !== undefined) {
        const pb = st!.last.get(b);
        if (pb) r = Math.max(r, pb.level! + 1);
      }
      st!.last.set(a, op);
      if (b !== undefined) st!.last.set(b, op);
    }
    // Without a key the source publishes inserts only: they all share a level.
    op.level = r;
    if (r > st!.max[op.kind]) st!.max[op.kind] = r;
    if (r > top) top = r;
    // Under FULL a row is known by all its values; an unchanged TOAST value hides
    // one, so later changes of "the same" row could not be recognised: serialise.
    if (shape.full && hasUnchanged(shape, op.newT)) st!.floor = r + 1;
  }
  if (exact) top = next - 1;

  // Tasks: per level, deletes child tables first, then updates and inserts parent tables first.
  const units = [...states.keys()].sort(
    (a, b) =>
      a.target.links.rank - b.target.links.rank || states.get(a)!.first - states.get(b)!.first,
  );
  const reversed = [...units].reverse();
  const levels: Map<U, PlannedOp<R>[]>[] = Array.from({ length: top + 1 }, () => new Map());
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    if (op === undefined) continue;
    const unit = opUnits[i]!;
    const m = levels[op.level!]!;
    const list = m.get(unit);
    if (list) list.push(op);
    else m.set(unit, [op]);
  }
  for (const level of levels) {
    const emit = (order: U[], phase: Phase, pick: (op: PlannedOp<R>) => boolean) => {
      for (const unit of order) {
        const list = level.get(unit);
        if (!list) continue;
        const history = unit.target.type === 'history';
        if (history !== (phase === 'history')) continue;
        const chosen = history ? list : list.filter(pick);
        if (chosen.length > 0)
          plan.tasks.push({ kind: phase, unit, shape: states.get(unit)!.shape, ops: chosen });
      }
    };
    emit(reversed, 'delete', (o) => o.kind === 'delete');
    emit(units, 'update', (o) => o.kind === 'update');
    emit(units, 'insert', (o) => o.kind === 'insert');
    emit(units, 'history', () => true);
  }
}

type Kind = PlannedOp<unknown>['kind'];

/**
 * The lowest level an operation of `kind` on `unit` may take given the
 * operations already placed on tables related to it by a foreign key. A
 * level runs deletes (child tables first), then updates, then inserts
 * (parent tables first); where that order would run the new operation
 * before an earlier one it may depend on, it goes one level up.
 */
function linkFloor<U extends PlanUnit, R>(
  unit: U,
  kind: Kind,
  states: Map<U, UnitLevels<R>>,
  byTarget: Map<TargetInfo, U>,
): number {
  let floor = 0;
  for (const [target, link] of unit.target.links.related) {
    const other = byTarget.get(target);
    if (other === undefined) continue;
    const max = states.get(other)!.max;
    for (const earlier of ['insert', 'update', 'delete'] as const) {
      if (max[earlier] < 0) continue;
      const at = max[earlier] + (mustFollow(link, earlier, kind) ? 1 : 0);
      if (at > floor) floor = at;
    }
  }
  return floor;
}

/**
 * Whether a `later` operation on a table must go one level above an
 * `earlier` one on a related table (`link`: what the other table is to this
 * one). Same level is safe where the phase order keeps them in source order,
 * or where swapping them cannot break a foreign key (a parent inserted
 * earlier, a child deleted earlier).
 */
export function mustFollow(link: Link, earlier: Kind, later: Kind): boolean {
  switch (link) {
    case 'cycle':
      return true;
    case 'parent':
      // An update may point a child at a parent row inserted earlier.
      return earlier === 'insert' && later === 'update';
    case 'child':
      // Updates run before inserts and after deletes, parents first: a parent's
      // update or delete must not overtake a child's update (moved away from it).
      return (
        (earlier === 'update' && later !== 'insert') || (earlier === 'insert' && later === 'update')
      );
    case 'self':
      // One statement per phase checks its rows together; across phases the swaps that matter.
      return (
        (earlier === 'insert' && later === 'update') || (earlier === 'update' && later === 'delete')
      );
  }
}
