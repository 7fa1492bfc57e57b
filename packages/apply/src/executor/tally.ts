import type { RoutedChange, Unit } from '../intake/router.js';
import type { GroupPlan } from '../planner/group-plan.js';
import type { PlannedOp } from '../planner/plan-units.js';
import { type Operation, type OperationResult, Stats } from '../stats.js';
import type { TargetInfo } from '../target/target-meta.js';
import type { AppliedEvent } from './executor.js';

const OPERATIONS: readonly Operation[] = ['insert', 'update', 'delete', 'truncate'];
const RESULTS: readonly OperationResult[] = [
  'ok',
  'conflict',
  'missing',
  'error',
  'skipped',
  'filtered',
];
const indexOf = <T extends string>(list: readonly T[]) =>
  Object.fromEntries(list.map((x, i) => [x, i])) as Record<T, number>;
const OPERATION_INDEX = indexOf(OPERATIONS);
const RESULT_INDEX = indexOf(RESULTS);

/** Events kept for the log per destination transaction (the rest is counted). */
export const LOG_EVENTS_PER_GROUP = 20;

/**
 * What a destination transaction did, reduced as each plan is applied:
 * operations per (source, target, operation, result), rows added per
 * target (for the planner statistics), and the first events worth a log
 * line. A large transaction is tallied part by part, so nothing of a part
 * already sent stays in memory until its COMMIT (2,000,000 rows in one
 * transaction otherwise held every change and every plan to the end).
 */
export class GroupTally {
  readonly counts = new Stats();
  readonly grown = new Map<TargetInfo, number>();
  /** Loggable events, at most LOG_EVENTS_PER_GROUP. */
  readonly events: AppliedEvent[] = [];
  /** Loggable events beyond those. */
  more = 0;

  private pending: [GroupPlan<Unit, RoutedChange>, AppliedEvent[]][] = [];

  /**
   * A plan that was run and the array its events arrive in. Events of
   * deferred statements arrive with the next round trip (at the latest the
   * COMMIT), so the pair is reduced by `settle`, once the answers are in.
   */
  add(plan: GroupPlan<Unit, RoutedChange>, events: AppliedEvent[]): void {
    this.pending.push([plan, events]);
  }

  /** Reduces what was added, and lets go of the plans and events. */
  settle(): this {
    for (const [plan, events] of this.pending) this.reduce(plan, events);
    this.pending = [];
    return this;
  }

  private reduce(plan: GroupPlan<Unit, RoutedChange>, events: AppliedEvent[]): void {
    const worst = new Map<PlannedOp<RoutedChange>, OperationResult>();
    for (const e of events) {
      const r: OperationResult =
        e.kind === 'unmaterializable'
          ? 'error'
          : e.kind === 'insert_conflict'
            ? 'conflict'
            : 'missing';
      if (!e.op.quiet || e.kind === 'unmaterializable') {
        if (this.events.length < LOG_EVENTS_PER_GROUP) this.events.push(e);
        else this.more++;
      }
      if (e.op.quiet && r !== 'error') continue;
      if (r === 'error' || !worst.has(e.op)) worst.set(e.op, r);
    }
    // Counted per unit in a small array, then added to the named counters once per plan
    // (a counter key string per change was a measurable share of the streamer's CPU).
    const perUnit = new Map<Unit, Int32Array>();
    const add = (c: RoutedChange, r: OperationResult) => {
      let counts = perUnit.get(c.unit);
      if (!counts) {
        counts = new Int32Array(OPERATIONS.length * RESULTS.length);
        perUnit.set(c.unit, counts);
      }
      counts[OPERATION_INDEX[c.operation] * RESULTS.length + RESULT_INDEX[r]]!++;
    };
    for (const g of plan.ignored) for (const c of g.refs) add(c, 'skipped');
    for (const g of plan.folded) for (const c of g.refs) add(c, 'ok');
    for (const task of plan.tasks) {
      if (task.kind === 'truncate') {
        for (const c of task.refs) add(c, 'ok');
        continue;
      }
      let grown = 0;
      for (const op of task.ops) {
        const r = worst.get(op) ?? 'ok';
        for (const c of op.refs) add(c, r);
        if (op.kind === 'insert' || (task.kind === 'history' && op.kind === 'update'))
          grown += op.refs.length;
      }
      if (grown > 0)
        this.grown.set(task.unit.target, (this.grown.get(task.unit.target) ?? 0) + grown);
    }
    for (const [unit, counts] of perUnit) {
      for (let i = 0; i < counts.length; i++) {
        if (counts[i] === 0) continue;
        this.counts.add(
          unit.source.id.database,
          unit.source.id.sid,
          unit.target.display,
          OPERATIONS[Math.floor(i / RESULTS.length)]!,
          RESULTS[i % RESULTS.length]!,
          counts[i],
        );
      }
    }
  }
}
