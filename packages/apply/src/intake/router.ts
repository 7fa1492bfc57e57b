import { formatLsn, type Logger } from '@kuvasz/core';
import {
  type ChangeTuple,
  type DeleteChange,
  type InsertChange,
  type RowChange,
  type SourceRelation,
  UNCHANGED,
  type UpdateChange,
  type WireTuple,
} from '../change.js';
import { ApplyError, toError } from '../errors.js';
import type { TableMapping } from '../options.js';
import { type PlanItem, WireItem } from '../planner/plan-units.js';
import { describeKey, requireKey, resolveShape, type Shape } from '../planner/shape.js';
import {
  type AppliedRules,
  applyRules,
  extendRow,
  type RowOp,
  type RowRules,
  readsUnchanged,
} from '../row-rules.js';
import type { Operation, Stats } from '../stats.js';
import type { TargetInfo } from '../target/target-meta.js';
import { checkWire, wireValues } from '../wire-tuple.js';
import type { SourceLedger } from './source-ledger.js';

export interface TableWatermark {
  /** Changes committed before this LSN are already in the initial copy: dropped. */
  skipBefore?: bigint;
  /** Changes committed before this LSN are applied idempotently and quietly. */
  reconcileBefore?: bigint;
}

/** A change the table's filter leaves out. */
const FILTERED = Symbol('filtered');

/** The new row with unchanged TOAST values taken from the old row, where the source sent it (REPLICA IDENTITY FULL). */
function filled(row: ChangeTuple, old: ChangeTuple | undefined): ChangeTuple {
  if (!old || !row.includes(UNCHANGED)) return row;
  return row.map((v, i) => (v === UNCHANGED && old[i] !== UNCHANGED ? (old[i] ?? null) : v));
}

/** A wire tuple the engine can read safely, or the typed error that says what is wrong with it. */
function checkedWire(
  wire: WireTuple,
  relation: SourceRelation,
  op: 'insert into' | 'update of' | 'delete from' = 'insert into',
): WireTuple {
  const wrong = checkWire(wire, relation.columns.length);
  if (wrong)
    throw new ApplyError('invalid_input', `${op} ${relation.schema}.${relation.table}: ${wrong}`);
  return wire;
}

/**
 * An update or delete that came as bytes, as the value form every other
 * path reads (row rules, key changes): decoded once, here.
 */
function decodedRow<C extends UpdateChange | DeleteChange>(change: C, relation: SourceRelation): C {
  if (!change.wire) return change;
  if (change.op === 'update') {
    const values = wireValues(checkedWire(change.wire, relation, 'update of'));
    return { ...change, new: values, wire: undefined };
  }
  const values = wireValues(checkedWire(change.wire, relation, 'delete from'));
  const full = relation.replicaIdentity === 'full';
  return {
    ...change,
    key: full ? undefined : values,
    old: full ? values : undefined,
    wire: undefined,
  };
}

/** An update's new row: `new`, or its bytes decoded. */
function updateNew(change: UpdateChange, relation: SourceRelation): ChangeTuple {
  const row = decodedRow(change, relation).new;
  if (!row)
    throw new ApplyError(
      'invalid_input',
      `update of ${relation.schema}.${relation.table} carries neither new nor wire`,
    );
  return row;
}

/** An insert's new row as values: decoded from its bytes when it came as a wire tuple. */
function newRow(change: InsertChange, relation: SourceRelation): ChangeTuple {
  if (change.wire) return wireValues(checkedWire(change.wire, relation));
  if (!change.new)
    throw new ApplyError(
      'invalid_input',
      `insert into ${relation.schema}.${relation.table} carries neither new nor wire`,
    );
  return change.new;
}

/** One (source, target table) pair: what statements are planned for. */
export interface Unit {
  key: string;
  source: SourceLedger;
  target: TargetInfo;
  /** `schema\0table` of the target. */
  targetKey: string;
  shapes: WeakMap<SourceRelation, Shape>;
  /** Source columns the target lacks, as last reported (see `planItem`). */
  ignored: string;
  /** The table's row rules (filter, computed columns), bound per relation shape. */
  rules: RowRules | undefined;
  bound: WeakMap<SourceRelation, AppliedRules>;
}

/** One change for one unit, as the engine holds it until it is applied. */
export interface RoutedChange {
  unit: Unit;
  /** Commit LSN of its source transaction. */
  lsn: bigint;
  /** Index of the change within its source transaction. */
  index: number;
  operation: Operation;
  /** Undefined when the change could not be planned (`error` says why). */
  item: PlanItem<RoutedChange> | undefined;
  error?: ApplyError;
}

interface RouteTargets {
  version: number;
  units: Unit[];
  wm: TableWatermark | undefined;
}

export function mappingKey(database: string, schema: string, table: string): string {
  return `${database}\u0000${schema}\u0000${table}`;
}

export function targetKey(t: { schema: string; table: string }): string {
  return `${t.schema}\u0000${t.table}`;
}

/**
 * Turns a source's changes into routed changes: which targets (units), the
 * plan item each needs, watermarks of the initial copy. Owns the units and
 * the watermarks; a change that cannot be planned carries its error, which
 * stops its source when its transaction is reached.
 */
export class Router {
  private readonly units = new Map<string, Unit>();
  private readonly watermarks = new Map<string, TableWatermark>();
  /** Targets without a sid column: the one source allowed to write them. */
  private readonly targetSids = new Map<string, string>();
  /** Per source, per relation object: its targets (units and watermark), valid for `version`. */
  private readonly cache = new Map<SourceLedger, WeakMap<SourceRelation, RouteTargets>>();
  private version = 0;

  constructor(
    private readonly mappings: Map<string, TableMapping[]>,
    private readonly targets: Map<string, TargetInfo>,
    private readonly stats: Stats,
    private readonly log: Logger,
  ) {}

  /** Targets that some source's columns are missing from: the engine watches them for new columns. */
  lackingTargets(): Set<TargetInfo> {
    const out = new Set<TargetInfo>();
    for (const u of this.units.values()) if (u.ignored !== '') out.add(u.target);
    return out;
  }

  /** A target's columns changed: its units plan with fresh shapes from the next change on. */
  invalidateTarget(target: TargetInfo): void {
    for (const u of this.units.values()) if (u.target === target) u.shapes = new WeakMap();
    this.version++;
  }

  setWatermark(source: SourceLedger, table: { schema: string; table: string }, wm: TableWatermark) {
    this.watermarks.set(`${source.key}\u0000${table.schema}\u0000${table.table}`, { ...wm });
    this.version++;
  }

  /** Appends the routed form of `change` (index `index` of the transaction at `lsn`) to `out`. */
  route(
    src: SourceLedger,
    lsn: bigint,
    index: number,
    time: string,
    change: RowChange,
    out: RoutedChange[],
  ): void {
    if (change.op === 'truncate') {
      for (const relation of change.relations)
        this.routeTo(src, lsn, index, time, change, relation, out);
    } else {
      this.routeTo(src, lsn, index, time, change, change.relation, out);
    }
  }

  /** The units a relation's changes go to, cached per relation object (readers reuse it). */
  private targetsOf(src: SourceLedger, relation: SourceRelation): RouteTargets {
    let bySource = this.cache.get(src);
    if (!bySource) {
      bySource = new WeakMap();
      this.cache.set(src, bySource);
    }
    const hit = bySource.get(relation);
    if (hit && hit.version === this.version) return hit;
    const maps = this.mappings.get(mappingKey(src.id.database, relation.schema, relation.table));
    const wm = this.watermarks.get(`${src.key}\u0000${relation.schema}\u0000${relation.table}`);
    // unit() may throw (a target without sid claimed by another source): nothing is cached then.
    const entry: RouteTargets = {
      version: this.version,
      units: maps ? maps.map((m) => this.unit(src, m)) : [],
      wm,
    };
    bySource.set(relation, entry);
    return entry;
  }

  private routeTo(
    src: SourceLedger,
    lsn: bigint,
    index: number,
    time: string,
    change: RowChange,
    relation: SourceRelation,
    out: RoutedChange[],
  ): void {
    const { units, wm } = this.targetsOf(src, relation);
    for (const unit of units) {
      if (wm?.skipBefore !== undefined && lsn < wm.skipBefore) {
        this.stats.add(src.id.database, src.id.sid, unit.target.display, change.op, 'skipped');
        continue;
      }
      const quiet = wm?.reconcileBefore !== undefined && lsn < wm.reconcileBefore;
      const routed: RoutedChange = { unit, lsn, index, operation: change.op, item: undefined };
      try {
        const item = this.planItem(unit, change, relation, lsn, time, quiet, routed);
        if (item === FILTERED) {
          this.stats.add(src.id.database, src.id.sid, unit.target.display, change.op, 'filtered');
          continue;
        }
        routed.item = item;
      } catch (e) {
        routed.error =
          e instanceof ApplyError
            ? new ApplyError(e.code, `${src.label}: ${e.message}`, {
                table: unit.target.display,
                key: e.key,
                lsn: formatLsn(lsn),
                changeIndex: index,
                source: src.label,
                cause: e,
              })
            : new ApplyError('invalid_input', `${src.label}: ${toError(e).message}`, {
                cause: e,
              });
      }
      out.push(routed);
    }
  }

  private unit(src: SourceLedger, m: TableMapping): Unit {
    const tk = targetKey(m.target);
    const k = `${src.key}\u0000${tk}`;
    let u = this.units.get(k);
    if (u) return u;
    const target = this.targets.get(tk)!;
    if (!target.sid) {
      const other = this.targetSids.get(tk);
      if (other !== undefined && other !== src.id.sid) {
        throw new ApplyError(
          'unmappable_change',
          `${src.label}: target ${target.display} has no sid column but sid ${other} already writes into it; add a sid column to tell the sources apart`,
          { table: target.display, source: src.label },
        );
      }
      this.targetSids.set(tk, src.id.sid);
    }
    u = {
      key: k,
      source: src,
      target,
      targetKey: tk,
      shapes: new WeakMap(),
      ignored: '',
      rules: m.rows,
      bound: new WeakMap(),
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
    ref: RoutedChange,
  ): PlanItem<RoutedChange> | typeof FILTERED {
    if (change.op === 'truncate') return { op: 'truncate', tx: lsn, time, quiet, ref };
    if (unit.rules) return this.planRuled(unit, change, relation, lsn, time, quiet, ref);
    const shape = this.shapeOf(unit, relation);
    if (change.op === 'insert') {
      if (change.wire)
        return new WireItem(
          'insert',
          shape,
          checkedWire(change.wire, relation),
          undefined,
          lsn,
          time,
          quiet,
          ref,
        );
      return {
        op: 'insert',
        shape,
        newT: newRow(change, relation),
        whereT: undefined,
        tx: lsn,
        time,
        quiet,
        ref,
      };
    }
    requireKey(shape, relation);
    if (change.op === 'update') {
      if (change.wire && !change.key && !change.old) {
        const wire = checkedWire(change.wire, relation, 'update of');
        return new WireItem('update', shape, wire, wire, lsn, time, quiet, ref);
      }
      const newT = updateNew(change, relation);
      const whereT = shape.full ? (change.old ?? newT) : (change.key ?? change.old ?? newT);
      return { op: 'update', shape, newT, whereT, tx: lsn, time, quiet, ref };
    }
    if (change.wire) {
      const wire = checkedWire(change.wire, relation, 'delete from');
      return new WireItem('delete', shape, undefined, wire, lsn, time, quiet, ref);
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

  private shapeOf(unit: Unit, relation: SourceRelation): Shape {
    let shape: Shape | undefined = unit.shapes.get(relation);
    if (!shape) {
      shape = resolveShape(relation, unit.target);
      unit.shapes.set(relation, shape);
      this.reportIgnored(unit, shape);
    }
    return shape;
  }

  private bindRules(unit: Unit, relation: SourceRelation): AppliedRules {
    let applied = unit.bound.get(relation);
    if (!applied) {
      try {
        applied = applyRules(relation, unit.rules!.bind(relation, unit.source.id));
      } catch (e) {
        throw new ApplyError(
          'rule_failed',
          `row rules of ${relation.schema}.${relation.table} for ${unit.target.display}: ${toError(e).message}`,
          { table: unit.target.display, cause: e },
        );
      }
      unit.bound.set(relation, applied);
    }
    return applied;
  }

  /**
   * A table with row rules. Rows move in and out of the filter, so the
   * target may or may not hold a row: updates and deletes are applied
   * idempotently and quietly (an update of a row the target lacks inserts
   * it, a delete of one it lacks is no error). An insert outside the filter
   * is skipped; an update whose new row is outside it removes the row
   * (clone), closes its open version (history), or is skipped (append);
   * deletes are applied as they come (deleting a row never replicated
   * changes nothing).
   */
  private planRuled(
    unit: Unit,
    input: Exclude<RowChange, { op: 'truncate' }>,
    relation: SourceRelation,
    lsn: bigint,
    time: string,
    quiet: boolean,
    ref: RoutedChange,
  ): PlanItem<RoutedChange> | typeof FILTERED {
    const change = input.op === 'insert' ? input : decodedRow(input, relation);
    const applied = this.bindRules(unit, relation);
    const shape = this.shapeOf(unit, applied.relation);
    // A key-only tuple gets NULL computed values: only under FULL (the old row) do they locate a row.
    const extend = (t: ChangeTuple, op: RowOp, full: boolean) =>
      this.guarded(unit, shape, t, () => extendRow(applied, t, op, full));
    if (change.op === 'delete') {
      requireKey(shape, applied.relation);
      const loc = change.key ?? change.old;
      if (!loc) {
        throw new ApplyError(
          'invalid_input',
          `delete on ${relation.schema}.${relation.table} carries neither key nor old row`,
        );
      }
      const whereT = extend(loc, 'update', loc === change.old);
      return { op: 'delete', shape, whereT, newT: undefined, tx: lsn, time, quiet: true, ref };
    }
    const op: RowOp = change.op;
    const row =
      change.op === 'update'
        ? filled(updateNew(change, relation), change.old)
        : newRow(change, relation);
    const keep = this.evaluate(unit, shape, applied, row, op);
    if (change.op === 'insert') {
      if (!keep) return FILTERED;
      const newT = extend(row, op, true);
      return { op: 'insert', shape, newT, whereT: undefined, tx: lsn, time, quiet, ref };
    }
    requireKey(shape, applied.relation);
    if (!keep && unit.target.type === 'append') return FILTERED;
    const newT = keep ? extend(row, op, true) : undefined;
    const loc = shape.full ? change.old : (change.key ?? change.old);
    const whereT = loc ? extend(loc, op, loc === change.old) : (newT ?? extend(row, op, false));
    if (newT) return { op: 'update', shape, newT, whereT, tx: lsn, time, quiet: true, ref };
    return {
      op: 'delete',
      shape,
      whereT,
      newT: undefined,
      tx: lsn,
      time,
      quiet: true,
      leaves: true,
      ref,
    };
  }

  /** The filter's answer for a row; an error (or a value it cannot read) stops the source. */
  private evaluate(
    unit: Unit,
    shape: Shape,
    applied: AppliedRules,
    row: ChangeTuple,
    op: RowOp,
  ): boolean {
    const filter = applied.rules.filter;
    if (!filter) return true;
    if (readsUnchanged(row, filter.reads)) {
      const names = filter.reads
        .filter((i) => row[i] === UNCHANGED)
        .map((i) => applied.relation.columns[i]!.name);
      throw this.ruleError(
        unit,
        shape,
        row,
        `the filter reads ${names.join(', ')}, which the source did not resend (an unchanged TOAST value); set REPLICA IDENTITY FULL on the source table so that updates carry the old values`,
      );
    }
    return this.guarded(unit, shape, row, () => filter.test(row, op));
  }

  /** Runs a rule; what it throws becomes the typed error naming the table and the key. */
  private guarded<T>(unit: Unit, shape: Shape, row: ChangeTuple, rule: () => T): T {
    try {
      return rule();
    } catch (e) {
      throw this.ruleError(unit, shape, row, toError(e).message, e);
    }
  }

  private ruleError(
    unit: Unit,
    shape: Shape,
    row: ChangeTuple,
    message: string,
    cause?: unknown,
  ): ApplyError {
    const key = describeKey(shape, row);
    return new ApplyError('rule_failed', `${unit.target.display} (${key}): ${message}`, {
      table: unit.target.display,
      key,
      cause,
    });
  }

  /** Source columns the target lacks are left out, as the specification says: said once per table and set of columns. */
  private reportIgnored(unit: Unit, shape: Shape): void {
    const list = shape.ignored.join(', ');
    if (list === unit.ignored) return;
    unit.ignored = list;
    if (list === '') return;
    this.log.info(
      {
        source: unit.source.label,
        table: `${shape.target.display}`,
        columns: shape.ignored,
      },
      'source columns not in the target: left out until the target has them',
    );
  }
}
