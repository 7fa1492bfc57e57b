import { Barrier } from './barrier.js';
import type { RowChange, SourceRelation } from './change.js';
import { ApplyError, toError } from './errors.js';
import { formatLsn } from './lsn.js';
import { type Position, positionKey, type StoredPositions } from './metadata.js';
import type { TableMapping } from './options.js';
import { identity, type PlanItem } from './plan-units.js';
import { requireKey, resolveShape, type Shape } from './shape.js';
import type { SourceState, TxRecord } from './source-state.js';
import type { Stats } from './stats.js';
import type { TargetInfo } from './target-meta.js';
import type { BarrierEntry, QueueEntry, Unit, WorkItem } from './work-item.js';
import type { Worker } from './worker.js';

export interface TableWatermark {
  /** Changes committed before this LSN are already in the initial copy: dropped. */
  skipBefore?: bigint;
  /** Changes committed before this LSN are applied idempotently and quietly. */
  reconcileBefore?: bigint;
}

interface RouteTargets {
  version: number;
  units: Unit[];
  wm: TableWatermark | undefined;
}

export function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function mappingKey(database: string, schema: string, table: string): string {
  return `${database}\u0000${schema}\u0000${table}`;
}

export function targetKey(t: { schema: string; table: string }): string {
  return `${t.schema}\u0000${t.table}`;
}

/**
 * Turns pushed changes into queue entries: which (source, target) unit, which
 * lane and worker, which plan; watermarks, re-push detection, barriers.
 */
export class Router {
  readonly units = new Map<string, Unit>();
  readonly watermarks = new Map<string, TableWatermark>();
  private readonly targetSids = new Map<string, string>();

  constructor(
    private readonly mappings: Map<string, TableMapping[]>,
    private readonly targets: Map<string, TargetInfo>,
    private readonly positions: () => Map<string, StoredPositions>,
    private readonly tableLanes: number,
    private readonly workers: () => Worker[],
    private readonly stat: Stats,
    private readonly failSource: (src: SourceState, error: ApplyError) => void,
  ) {}

  /** Per source, per relation object: its targets (units and watermark), valid for `cacheVersion`. */
  private readonly cache = new Map<SourceState, WeakMap<SourceRelation, RouteTargets>>();
  private cacheVersion = 0;

  /** Watermarks changed: routes must look them up again. */
  invalidate(): void {
    this.cacheVersion++;
  }

  route(
    src: SourceState,
    rec: TxRecord,
    lsn: bigint,
    index: number,
    time: string,
    change: RowChange,
    out: Map<Worker, QueueEntry[]>,
    groups: Map<Unit, WorkItem[]>,
  ): void {
    if (change.op === 'truncate') {
      for (const relation of change.relations)
        this.routeTo(src, rec, lsn, index, time, change, relation, out, groups);
    } else {
      this.routeTo(src, rec, lsn, index, time, change, change.relation, out, groups);
    }
  }

  /** The units a relation's changes go to, cached per relation object (readers reuse it). */
  private targetsOf(src: SourceState, relation: SourceRelation): RouteTargets {
    let bySource = this.cache.get(src);
    if (!bySource) {
      bySource = new WeakMap();
      this.cache.set(src, bySource);
    }
    const hit = bySource.get(relation);
    if (hit && hit.version === this.cacheVersion) return hit;
    const maps = this.mappings.get(mappingKey(src.id.database, relation.schema, relation.table));
    const wm = this.watermarks.get(`${src.key}\u0000${relation.schema}\u0000${relation.table}`);
    // unit() may throw (a target without sid claimed by another source): nothing is cached then.
    const entry: RouteTargets = {
      version: this.cacheVersion,
      units: maps ? maps.map((m) => this.unit(src, m)) : [],
      wm,
    };
    bySource.set(relation, entry);
    return entry;
  }

  private routeTo(
    src: SourceState,
    rec: TxRecord,
    lsn: bigint,
    index: number,
    time: string,
    change: RowChange,
    relation: SourceRelation,
    out: Map<Worker, QueueEntry[]>,
    groups: Map<Unit, WorkItem[]>,
  ): void {
    const { units, wm } = this.targetsOf(src, relation);
    for (const unit of units) {
      if (
        unit.enqueued &&
        (lsn < unit.enqueued.lsn || (lsn === unit.enqueued.lsn && index < unit.enqueued.nextIndex))
      ) {
        continue; // re-pushed: already queued or applied
      }
      // Owned by the unit (never a stored position's object): updated in place.
      if (unit.enqueued) {
        unit.enqueued.lsn = lsn;
        unit.enqueued.nextIndex = index + 1;
      } else unit.enqueued = { lsn, nextIndex: index + 1 };
      if (wm?.skipBefore !== undefined && lsn < wm.skipBefore) {
        this.stat.add(src.id.database, src.id.sid, unit.target.display, change.op, 'skipped');
        continue;
      }
      const quiet = wm?.reconcileBefore !== undefined && lsn < wm.reconcileBefore;
      const item: WorkItem = {
        unit,
        rec,
        epoch: src.epoch,
        lsn,
        index,
        operation: change.op,
        plan: undefined,
        atomic: unit.target.type === 'history',
        lane: 0,
      };
      try {
        item.plan = this.planItem(unit, change, relation, lsn, time, quiet, item);
      } catch (e) {
        item.error =
          e instanceof ApplyError
            ? new ApplyError(e.code, `${src.label}: ${e.message}`, {
                table: unit.target.display,
                lsn: formatLsn(lsn),
                changeIndex: index,
                source: src.label,
                cause: e,
              })
            : new ApplyError('invalid_input', `${src.label}: ${toError(e).message}`, {
                cause: e,
              });
      }
      rec.pending++;
      if (item.atomic) {
        const list = groups.get(unit);
        if (list) list.push(item);
        else groups.set(unit, [item]);
      } else {
        const lane = this.laneOf(unit, item);
        if (lane === 'barrier') this.emitBarrier(unit, [item], out);
        else {
          item.lane = lane;
          emit(out, this.workers()[unit.workers[lane]!]!, item);
        }
      }
    }
  }

  /**
   * The lane of a change: by hash of its key, so one key always lands on the
   * same lane and keeps its order. What cannot be ordered by one key (a key
   * change, a truncate, a change of relation shape) is a barrier; REPLICA
   * IDENTITY FULL changes have no reliable key and all go to lane 0.
   */
  private laneOf(unit: Unit, item: WorkItem): number | 'barrier' {
    const plan = item.plan;
    if (unit.lanes === 1 || !plan) return 0;
    if (plan.op === 'truncate') return 'barrier';
    const sig = plan.shape.signature;
    const switched = unit.lastSignature !== undefined && unit.lastSignature !== sig;
    unit.lastSignature = sig;
    if (switched) return 'barrier';
    if (plan.shape.full) return 0;
    // Kept on the plan item: the planner needs the same identities.
    if (plan.op !== 'delete') plan.newId = identity(plan.shape, plan.newT);
    if (plan.op !== 'insert') plan.whereId = identity(plan.shape, plan.whereT);
    const key = plan.op === 'insert' ? plan.newId! : plan.whereId!;
    if (plan.op === 'update' && key !== plan.newId) return 'barrier';
    return hash(key) % unit.lanes;
  }

  private emitBarrier(unit: Unit, items: WorkItem[], out: Map<Worker, QueueEntry[]>): void {
    const barrier = new Barrier(unit.lanes);
    unit.source.barriers.add(barrier);
    for (const it of items) it.lane = 0;
    for (let lane = 0; lane < unit.lanes; lane++) {
      const entry: BarrierEntry = {
        kind: 'barrier',
        barrier,
        lane,
        unit,
        items: lane === 0 ? items : [],
      };
      emit(out, this.workers()[unit.workers[lane]!]!, entry);
    }
  }

  /** A history transaction's changes for one target: whole on one lane when any needs a barrier. */
  emitGroup(unit: Unit, items: WorkItem[], out: Map<Worker, QueueEntry[]>): void {
    const lanes = items.map((it) => this.laneOf(unit, it));
    if (lanes.includes('barrier')) {
      this.emitBarrier(unit, items, out);
      return;
    }
    const byLane = new Map<number, WorkItem[]>();
    items.forEach((it, i) => {
      it.lane = lanes[i] as number;
      const list = byLane.get(it.lane);
      if (list) list.push(it);
      else byLane.set(it.lane, [it]);
    });
    for (const [lane, list] of byLane) {
      const w = this.workers()[unit.workers[lane]!]!;
      for (const it of list) emit(out, w, it);
    }
  }

  private unit(src: SourceState, m: TableMapping): Unit {
    const tk = targetKey(m.target);
    const k = `${src.key}\u0000${tk}`;
    let u = this.units.get(k);
    if (u) return u;
    const target = this.targets.get(tk)!;
    if (!target.sid) {
      const other = this.targetSids.get(tk);
      if (other !== undefined && other !== src.id.sid) {
        const err = new ApplyError(
          'unmappable_change',
          `${src.label}: target ${target.display} has no sid column but sid ${other} already writes into it; add a sid column to tell the sources apart`,
          { table: target.display, source: src.label },
        );
        this.failSource(src, err);
        throw err;
      }
      this.targetSids.set(tk, src.id.sid);
    }
    const stored = this.positions().get(
      positionKey(src.id.database, src.id.sid, m.target.schema, m.target.table),
    );
    // The lane count is sticky: replays must route every change to the lane that stored it.
    const lanes = stored?.lanes ?? this.tableLanes;
    const positions = Array.from({ length: lanes }, (_, lane) => stored?.byLane.get(lane));
    const base = hash(tk);
    u = {
      key: k,
      source: src,
      target,
      lanes,
      workers: Array.from({ length: lanes }, (_, lane) => (base + lane) % this.workers().length),
      positions,
      enqueued: ownedCopy(lowest(positions)),
      lastSignature: undefined,
      shapes: new WeakMap(),
    };
    this.units.set(k, u);
    return u;
  }

  private planItem(
    unit: Unit,
    change: RowChange,
    relation: SourceRelation,
    lsn: bigint,
    time: string,
    quiet: boolean,
    ref: WorkItem,
  ): PlanItem<WorkItem> {
    if (change.op === 'truncate') return { op: 'truncate', tx: lsn, time, quiet, ref };
    let shape: Shape | undefined = unit.shapes.get(relation);
    if (!shape) {
      shape = resolveShape(relation, unit.target);
      unit.shapes.set(relation, shape);
    }
    if (change.op === 'insert') {
      return {
        op: 'insert',
        shape,
        newT: change.new,
        whereT: undefined,
        tx: lsn,
        time,
        quiet,
        ref,
      };
    }
    requireKey(shape, relation);
    if (change.op === 'update') {
      const whereT = shape.full
        ? (change.old ?? change.new)
        : (change.key ?? change.old ?? change.new);
      return { op: 'update', shape, newT: change.new, whereT, tx: lsn, time, quiet, ref };
    }
    const whereT = change.key ?? change.old;
    if (!whereT) {
      throw new ApplyError(
        'invalid_input',
        `delete on ${relation.schema}.${relation.table} carries neither key nor old row`,
      );
    }
    return { op: 'delete', shape, whereT, newT: undefined, tx: lsn, time, quiet, ref };
  }
}

function emit(out: Map<Worker, QueueEntry[]>, w: Worker, e: QueueEntry): void {
  const list = out.get(w);
  if (list) list.push(e);
  else out.set(w, [e]);
}

export function ownedCopy(p: Position | undefined): Position | undefined {
  return p ? { lsn: p.lsn, nextIndex: p.nextIndex } : undefined;
}

/** The lowest of the lanes' positions: below it everything is in the destination. */
export function lowest(positions: (Position | undefined)[]): Position | undefined {
  let low: Position | undefined;
  for (const p of positions) {
    if (!p) return undefined;
    if (!low || p.lsn < low.lsn || (p.lsn === low.lsn && p.nextIndex < low.nextIndex)) low = p;
  }
  return low;
}
