import { type ChangeTuple, UNCHANGED, type WireTuple } from '../change.js';
import { wireValue, wireValues } from '../wire-tuple.js';
import type { Shape } from './shape.js';

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
      /** A delete that only takes the row out of the target (it left the table's filter): history closes its version without marking it deleted. */
      leaves?: boolean | undefined;
      ref: R;
      /** `identity()` of `newT` / `whereT`, when the caller computed it already. */
      newId?: string | undefined;
      whereId?: string | undefined;
      /** The new row as bytes (`newT` decodes them when read): see `WireItem`. */
      wire?: WireTuple | undefined;
      /** The tuple that locates the row, as bytes (`whereT` decodes them when read). */
      whereWire?: WireTuple | undefined;
    }
  | { op: 'truncate'; tx: bigint; time: string; quiet: boolean; ref: R };

export type RowItem<R> = Extract<PlanItem<R>, { op: 'insert' | 'update' | 'delete' }>;

export interface PlannedOp<R> {
  kind: 'insert' | 'update' | 'delete';
  newT: ChangeTuple | undefined;
  whereT: ChangeTuple | undefined;
  keyChanged: boolean;
  time: string;
  quiet: boolean;
  /** See `PlanItem.leaves`. */
  leaves?: boolean | undefined;
  /** Every change folded into this operation (several when collapsed). */
  refs: R[];
  /** Cached `identity()` of `newT` / `whereT` (undefined: not computed yet). */
  newId?: string | undefined;
  whereId?: string | undefined;
  /** Position of its first change in the group: the source order across tables. */
  seq: number;
  /** The level the group planner put it in (see group-plan.ts). */
  level?: number | undefined;
  /** The new row as bytes while nothing has replaced `newT`: COPY takes them as they are. */
  wire?: WireTuple | undefined;
  /** `whereT` as bytes while nothing has replaced it: a staged batch takes them as they are. */
  whereWire?: WireTuple | undefined;
}

/**
 * A change that arrived as bytes, as a plan item: an insert
 * (`InsertChange.wire`), an update whose key did not change (its new row
 * also locates it: `whereWire` is `wire`) or a delete (`whereWire` only).
 * `newT` and `whereT` are decoded on first read, so a queued change holds its
 * bytes and no string per value, and a COPY (into the target, or into a
 * staging table: see `Staged`) writes the bytes as they are. A class with
 * its values on the prototype: spread it and they are lost, so nothing
 * spreads plan items or operations (program.ts names the fields).
 */
export class WireItem<R> {
  newId: string | undefined = undefined;
  whereId: string | undefined = undefined;
  readonly leaves = undefined;
  private newValues: ChangeTuple | undefined = undefined;
  private whereValues: ChangeTuple | undefined = undefined;

  constructor(
    readonly op: 'insert' | 'update' | 'delete',
    readonly shape: Shape,
    readonly wire: WireTuple | undefined,
    readonly whereWire: WireTuple | undefined,
    readonly tx: bigint,
    readonly time: string,
    readonly quiet: boolean,
    readonly ref: R,
  ) {}

  get newT(): ChangeTuple | undefined {
    if (this.wire && this.newValues === undefined) this.newValues = wireValues(this.wire);
    return this.newValues;
  }

  get whereT(): ChangeTuple | undefined {
    if (!this.whereWire) return undefined;
    if (this.whereWire === this.wire) return this.newT;
    if (this.whereValues === undefined) this.whereValues = wireValues(this.whereWire);
    return this.whereValues;
  }
}

/** The operation of one `WireItem` (clone, append): values read through, the new row's bytes dropped once `newT` is replaced. */
class WireOp<R> implements PlannedOp<R> {
  readonly keyChanged = false;
  readonly leaves = undefined;
  level: number | undefined = undefined;
  wire: WireTuple | undefined;
  whereWire: WireTuple | undefined;
  private replaced: ChangeTuple | undefined = undefined;
  newId: string | undefined;
  whereId: string | undefined;
  kind: 'insert' | 'update' | 'delete';
  time: string;
  quiet: boolean;
  refs: R[];

  constructor(
    private readonly item: WireItem<R>,
    readonly seq: number,
  ) {
    this.kind = item.op;
    this.wire = item.wire;
    this.whereWire = item.whereWire;
    this.newId = item.newId;
    this.whereId = item.whereId;
    this.time = item.time;
    this.quiet = item.quiet;
    this.refs = [item.ref];
  }

  get newT(): ChangeTuple | undefined {
    return this.replaced ?? this.item.newT;
  }

  set newT(v: ChangeTuple | undefined) {
    this.replaced = v;
    this.wire = undefined;
  }

  get whereT(): ChangeTuple | undefined {
    return this.item.whereT;
  }
}

/** `identity()` of an item's or an operation's new / where tuple, computed once. */
export function newIdOf<R>(shape: Shape, o: RowItem<R> | PlannedOp<R>): string {
  if (o.newId === undefined) {
    // A wire update's new row also locates it: one identity for both.
    if (o.wire && o.wire === o.whereWire) o.newId = whereIdOf(shape, o);
    else o.newId = o.wire ? wireIdentity(shape, o.wire) : identity(shape, o.newT);
  }
  return o.newId;
}

export function whereIdOf<R>(shape: Shape, o: RowItem<R> | PlannedOp<R>): string {
  if (o.whereId === undefined)
    o.whereId = o.whereWire ? wireIdentity(shape, o.whereWire) : identity(shape, o.whereT);
  return o.whereId;
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

/** `identity()` of a wire tuple: the key columns alone are decoded. */
export function wireIdentity(shape: Shape, w: WireTuple): string {
  const idx = shape.keyCols;
  if (idx.length === 1) {
    const v = wireValue(w, shape.cols[idx[0]!]!.src);
    return v === UNCHANGED ? '\u0000U' : v === null || v === undefined ? '\u0000N' : `=${v}`;
  }
  const parts: (string | null)[] = new Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const v = wireValue(w, shape.cols[idx[i]!]!.src);
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

/** One change as one operation (clone / append). */
export function toOp<R>(item: RowItem<R>, seq: number): PlannedOp<R> {
  if (item instanceof WireItem) return new WireOp(item, seq);
  const keyChanged =
    item.op === 'update' && whereIdOf(item.shape, item) !== newIdOf(item.shape, item);
  return {
    kind: item.op,
    newT: item.newT,
    whereT: item.whereT,
    keyChanged,
    time: item.time,
    quiet: item.quiet,
    leaves: item.leaves,
    refs: [item.ref],
    newId: item.newId,
    whereId: item.whereId,
    seq,
  };
}

interface Chain<R> {
  existing: boolean;
  where: ChangeTuple | undefined;
  /** The row's values at the end of the transaction; undefined while `from` holds them. */
  final: ChangeTuple | 'deleted' | undefined;
  /**
   * The change whose new row is the chain's final values as they arrived,
   * read only when needed: a chain of one wire insert keeps its bytes for COPY.
   */
  from: RowItem<R> | undefined;
  /** The chain ends with a delete that only left the filter. */
  leaves: boolean;
  time: string;
  quiet: boolean;
  refs: R[];
  seq: number;
}

/** A chain's final values (decoding the row it took them from, if it has not been yet). */
function finalOf<R>(c: Chain<R>): ChangeTuple | 'deleted' {
  return c.from ? c.from.newT! : c.final!;
}

/**
 * History: each key's changes within one source transaction become one
 * operation, since they share a commit time (several would make zero-length
 * versions): insert + updates = one insert, updates = one update, a key
 * change chain closes the first key and opens the last, inserted and deleted
 * leaves nothing (`folded`). `items` are one target's changes in source
 * order, with their position in the group.
 */
export function collapseHistory<R>(
  items: { item: RowItem<R>; seq: number }[],
  folded: R[],
): PlannedOp<R>[] {
  const ops: PlannedOp<R>[] = [];
  let i = 0;
  while (i < items.length) {
    let j = i;
    while (j < items.length && items[j]!.item.tx === items[i]!.item.tx) j++;
    const shape = items[i]!.item.shape;
    const chains: Chain<R>[] = [];
    const live = new Map<string, Chain<R>>();
    const gone = new Map<string, Chain<R>>();
    const start = (item: RowItem<R>, seq: number, existing: boolean): Chain<R> => {
      const c: Chain<R> = {
        existing,
        where: existing ? item.whereT : undefined,
        final: item.op === 'delete' ? 'deleted' : undefined,
        from: item.op === 'delete' ? undefined : item,
        leaves: item.op === 'delete' && item.leaves === true,
        time: item.time,
        quiet: item.quiet,
        refs: [item.ref],
        seq,
      };
      chains.push(c);
      return c;
    };
    for (let n = i; n < j; n++) {
      const { item, seq } = items[n]!;
      if (item.op === 'insert') {
        const k = newIdOf(shape, item);
        const revived = gone.get(k);
        if (revived) {
          gone.delete(k);
          revived.final = undefined;
          revived.from = item;
          revived.leaves = false;
          revived.refs.push(item.ref);
          live.set(k, revived);
        } else live.set(k, start(item, seq, false));
      } else if (item.op === 'update') {
        const kw = whereIdOf(shape, item);
        let c = live.get(kw);
        if (c) {
          live.delete(kw);
          const earlier = finalOf(c);
          c.final = overlay(earlier === 'deleted' ? undefined : earlier, item.newT!);
          c.from = undefined;
          c.leaves = false;
          c.refs.push(item.ref);
        } else c = start(item, seq, true);
        live.set(newIdOf(shape, item), c);
      } else {
        const kw = whereIdOf(shape, item);
        let c = live.get(kw);
        if (c) {
          live.delete(kw);
          c.final = 'deleted';
          c.from = undefined;
          c.leaves = item.leaves === true;
          c.refs.push(item.ref);
        } else c = start(item, seq, true);
        gone.set(kw, c);
      }
    }
    for (const c of chains) {
      const base = { time: c.time, quiet: c.quiet, refs: c.refs, seq: c.seq };
      if (!c.existing && c.from instanceof WireItem && c.refs.length === 1) {
        // A lone insert that arrived as bytes: they go to the COPY as they are.
        ops.push(new WireOp(c.from, c.seq));
        continue;
      }
      const final = finalOf(c);
      if (!c.existing) {
        if (final === 'deleted') folded.push(...c.refs);
        else
          ops.push({
            kind: 'insert',
            newT: final,
            whereT: undefined,
            keyChanged: false,
            ...base,
          });
      } else if (final === 'deleted') {
        ops.push({
          kind: 'delete',
          newT: undefined,
          whereT: c.where,
          keyChanged: false,
          leaves: c.leaves,
          ...base,
        });
      } else {
        ops.push({
          kind: 'update',
          newT: final,
          whereT: c.where,
          keyChanged: identity(shape, c.where) !== identity(shape, final),
          ...base,
        });
      }
    }
    i = j;
  }
  return ops;
}
