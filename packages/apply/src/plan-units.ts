import { type ChangeTuple, UNCHANGED } from './change.js';
import type { Shape } from './shape.js';
import type { TableType } from './target-ddl.js';

/**
 * The statement planner's input: one change for one target, in source order.
 * `ref` is opaque to the planner and comes back with each planned operation,
 * so the caller can map outcomes to changes.
 */
export type PlanItem<R> =
  | {
      op: 'insert' | 'update' | 'delete';
      shape: Shape;
      /** New row (insert, update). */
      newT?: ChangeTuple | undefined;
      /** Values that locate the row: the old key, the old row (FULL), or the new row's key. */
      whereT?: ChangeTuple | undefined;
      /** Identifies the source transaction; history collapses changes of one transaction. */
      tx: bigint;
      time: string;
      /** Reconcile window: idempotent and quiet. */
      quiet: boolean;
      ref: R;
      /** `identity()` of `newT` / `whereT`, when the caller computed it already. */
      newId?: string | undefined;
      whereId?: string | undefined;
    }
  | { op: 'truncate'; tx: bigint; time: string; quiet: boolean; ref: R };

export interface PlannedOp<R> {
  kind: 'insert' | 'update' | 'delete';
  newT: ChangeTuple | undefined;
  whereT: ChangeTuple | undefined;
  keyChanged: boolean;
  time: string;
  quiet: boolean;
  /** Every change folded into this operation (several when collapsed). */
  refs: R[];
  /** Cached `identity()` of `newT` / `whereT` (undefined: not computed yet). */
  newId?: string | undefined;
  whereId?: string | undefined;
  /** The round the planner put it in. */
  round?: number | undefined;
}

type RowItem<R> = Extract<PlanItem<R>, { op: 'insert' | 'update' | 'delete' }>;

/** `identity()` of an item's or an operation's new / where tuple, computed once. */
function newIdOf<R>(shape: Shape, o: RowItem<R> | PlannedOp<R>): string {
  if (o.newId === undefined) o.newId = identity(shape, o.newT);
  return o.newId;
}

function whereIdOf<R>(shape: Shape, o: RowItem<R> | PlannedOp<R>): string {
  if (o.whereId === undefined) o.whereId = identity(shape, o.whereT);
  return o.whereId;
}

export type Block<R> =
  | { kind: 'truncate'; time: string; refs: R[] }
  /** Rounds run in order; within a round no two operations touch the same row. */
  | { kind: 'rows'; shape: Shape; rounds: PlannedOp<R>[][] };

export interface UnitPlan<R> {
  blocks: Block<R>[];
  /** Changes the table type ignores (append: delete, truncate). */
  ignored: R[];
  /** Changes folded away entirely (history: a row inserted and deleted in one transaction). */
  folded: R[];
}

/** Row identity for ordering: the key values, or the whole row under FULL. */
export function identity(shape: Shape, tuple: ChangeTuple | undefined): string {
  if (!tuple) return '\u0000none';
  const idx = shape.keyCols;
  if (idx.length === 1) {
    // One key column (the common case): the value itself, tagged so NULL and UNCHANGED stay apart.
    const v = tuple[shape.cols[idx[0]!]!.src];
    return v === UNCHANGED ? '\u0000U' : v === null || v === undefined ? '\u0000N' : `=${v}`;
  }
  const parts: (string | null)[] = new Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const v = tuple[shape.cols[idx[i]!]!.src];
    parts[i] = v === UNCHANGED ? '\u0000U' : (v ?? null);
  }
  return JSON.stringify(parts);
}

export function hasUnchanged(shape: Shape, tuple: ChangeTuple | undefined): boolean {
  if (!tuple) return false;
  for (const c of shape.cols) if (tuple[c.src] === UNCHANGED) return true;
  return false;
}

/** Later values win; an unchanged TOAST value keeps the earlier one. */
export function overlay(earlier: ChangeTuple | undefined, later: ChangeTuple): ChangeTuple {
  if (!earlier) return later;
  const out = later.slice();
  for (let i = 0; i < out.length; i++) if (out[i] === UNCHANGED) out[i] = earlier[i] ?? null;
  return out;
}

/**
 * Plans one target's changes of one batch: blocks split at truncates and at
 * relation changes, then rounds. Clone / append fold consecutive updates of a
 * key (the last values win, unchanged TOAST keeps the earlier value); history
 * folds each key's changes within one source transaction into one version,
 * since they share a commit time (several would make zero-length versions).
 */
export function planUnit<R>(items: PlanItem<R>[], type: TableType): UnitPlan<R> {
  const plan: UnitPlan<R> = { blocks: [], ignored: [], folded: [] };
  let run: RowItem<R>[] = [];
  const closeRun = () => {
    if (run.length === 0) return;
    const shape = run[0]!.shape;
    const ops = type === 'history' ? collapseHistory(run, plan.folded) : run.map(toOp);
    plan.blocks.push({ kind: 'rows', shape, rounds: assignRounds(ops, shape, type !== 'history') });
    run = [];
  };
  for (const item of items) {
    if (item.op === 'truncate') {
      closeRun();
      if (type === 'append') plan.ignored.push(item.ref);
      else plan.blocks.push({ kind: 'truncate', time: item.time, refs: [item.ref] });
      continue;
    }
    if (type === 'append' && item.op === 'delete') {
      plan.ignored.push(item.ref);
      continue;
    }
    if (run.length > 0 && run[0]!.shape.signature !== item.shape.signature) closeRun();
    run.push(item);
  }
  closeRun();
  return plan;
}

function toOp<R>(item: RowItem<R>): PlannedOp<R> {
  const keyChanged =
    item.op === 'update' && whereIdOf(item.shape, item) !== newIdOf(item.shape, item);
  return {
    kind: item.op,
    newT: item.newT,
    whereT: item.whereT,
    keyChanged,
    time: item.time,
    quiet: item.quiet,
    refs: [item.ref],
    newId: item.newId,
    whereId: item.whereId,
  };
}

function assignRounds<R>(
  ops: PlannedOp<R>[],
  shape: Shape,
  foldUpdates: boolean,
): PlannedOp<R>[][] {
  const rounds: PlannedOp<R>[][] = [];
  // The last operation that touched each row; its `round` says where it went.
  const last = new Map<string, PlannedOp<R>>();
  let barrier = 0;
  // Without a replica identity the source publishes inserts only, and rows
  // nothing can address never share an identity: they all go in one round
  // (one statement), not one round each. Anything else there is kept in order.
  const keyless = shape.keyCols.length === 0;
  for (const op of ops) {
    if (keyless) {
      if (op.kind === 'insert') op.round = barrier;
      else {
        op.round = rounds.length;
        barrier = op.round + 1;
      }
      const slot = rounds[op.round];
      if (slot) slot.push(op);
      else rounds[op.round] = [op];
      continue;
    }
    // The rows an operation touches: one, or two for an update that changes the key.
    let a: string;
    let b: string | undefined;
    if (op.kind === 'insert') a = newIdOf(shape, op);
    else if (op.kind === 'delete') a = whereIdOf(shape, op);
    else {
      a = whereIdOf(shape, op);
      const n = newIdOf(shape, op);
      if (n !== a) b = n;
    }
    if (foldUpdates && op.kind === 'update' && !op.keyChanged) {
      const prev = last.get(a);
      if (prev && prev.kind === 'update' && !prev.keyChanged && prev.quiet === op.quiet) {
        prev.newT = overlay(prev.newT, op.newT!);
        // Under FULL an unchanged TOAST value is part of the identity, and overlay fills it in.
        prev.newId = undefined;
        prev.time = op.time;
        prev.refs.push(...op.refs);
        continue;
      }
    }
    let r = barrier;
    const pa = last.get(a);
    if (pa && pa.round! + 1 > r) r = pa.round! + 1;
    if (b !== undefined) {
      const pb = last.get(b);
      if (pb && pb.round! + 1 > r) r = pb.round! + 1;
    }
    op.round = r;
    const slot = rounds[r];
    if (slot) slot.push(op);
    else rounds[r] = [op];
    last.set(a, op);
    if (b !== undefined) last.set(b, op);
    // Under FULL a row is known by all its values; an unchanged TOAST value hides
    // one, so later changes of "the same" row could not be recognised: serialise.
    if (shape.full && hasUnchanged(shape, op.newT)) barrier = r + 1;
  }
  return rounds;
}

interface Chain<R> {
  existing: boolean;
  where: ChangeTuple | undefined;
  final: ChangeTuple | 'deleted';
  time: string;
  quiet: boolean;
  refs: R[];
}

function collapseHistory<R>(items: RowItem<R>[], folded: R[]): PlannedOp<R>[] {
  const ops: PlannedOp<R>[] = [];
  let i = 0;
  while (i < items.length) {
    let j = i;
    while (j < items.length && items[j]!.tx === items[i]!.tx) j++;
    const shape = items[i]!.shape;
    const chains: Chain<R>[] = [];
    const live = new Map<string, Chain<R>>();
    const gone = new Map<string, Chain<R>>();
    for (const item of items.slice(i, j)) {
      if (item.op === 'insert') {
        const k = newIdOf(shape, item);
        const revived = gone.get(k);
        if (revived) {
          gone.delete(k);
          revived.final = item.newT!;
          revived.refs.push(item.ref);
          live.set(k, revived);
        } else {
          const c: Chain<R> = {
            existing: false,
            where: undefined,
            final: item.newT!,
            time: item.time,
            quiet: item.quiet,
            refs: [item.ref],
          };
          chains.push(c);
          live.set(k, c);
        }
      } else if (item.op === 'update') {
        const kw = whereIdOf(shape, item);
        let c = live.get(kw);
        if (c) {
          live.delete(kw);
          c.final = overlay(c.final === 'deleted' ? undefined : c.final, item.newT!);
          c.refs.push(item.ref);
        } else {
          c = {
            existing: true,
            where: item.whereT,
            final: item.newT!,
            time: item.time,
            quiet: item.quiet,
            refs: [item.ref],
          };
          chains.push(c);
        }
        live.set(newIdOf(shape, item), c);
      } else {
        const kw = whereIdOf(shape, item);
        let c = live.get(kw);
        if (c) {
          live.delete(kw);
          c.final = 'deleted';
          c.refs.push(item.ref);
        } else {
          c = {
            existing: true,
            where: item.whereT,
            final: 'deleted',
            time: item.time,
            quiet: item.quiet,
            refs: [item.ref],
          };
          chains.push(c);
        }
        gone.set(kw, c);
      }
    }
    for (const c of chains) {
      if (!c.existing) {
        if (c.final === 'deleted') folded.push(...c.refs);
        else
          ops.push({
            kind: 'insert',
            newT: c.final,
            whereT: undefined,
            keyChanged: false,
            time: c.time,
            quiet: c.quiet,
            refs: c.refs,
          });
      } else if (c.final === 'deleted') {
        ops.push({
          kind: 'delete',
          newT: undefined,
          whereT: c.where,
          keyChanged: false,
          time: c.time,
          quiet: c.quiet,
          refs: c.refs,
        });
      } else {
        ops.push({
          kind: 'update',
          newT: c.final,
          whereT: c.where,
          keyChanged: identity(shape, c.where) !== identity(shape, c.final),
          time: c.time,
          quiet: c.quiet,
          refs: c.refs,
        });
      }
    }
    i = j;
  }
  return ops;
}
