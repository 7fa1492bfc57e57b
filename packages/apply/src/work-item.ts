import type { SourceRelation } from './change.js';
import type { ApplyError } from './errors.js';
import type { Position } from './metadata.js';
import type { PlanItem } from './plan-units.js';
import type { Shape } from './shape.js';
import type { SourceState, TxRecord } from './source-state.js';
import type { Operation } from './stats.js';
import type { TargetInfo } from './target-meta.js';

/** One (source, target table) pair: the unit of ordering and of stored positions. */
export interface Unit {
  key: string;
  source: SourceState;
  target: TargetInfo;
  /**
   * Key-hash lanes of this unit, each applied by its own worker (sticky: the
   * count stored with the positions wins, so replays route alike).
   */
  lanes: number;
  /** Worker index of each lane. */
  workers: number[];
  /** Per lane: committed in the destination (loaded at start, advanced on commit). */
  positions: (Position | undefined)[];
  /** Highest position queued so far: re-pushed changes at or below it are dropped. */
  enqueued: Position | undefined;
  /** Signature of the last shape routed: a change of shape is a barrier. */
  lastSignature: string | undefined;
  shapes: WeakMap<SourceRelation, Shape>;
}

export interface WorkItem {
  unit: Unit;
  rec: TxRecord;
  epoch: number;
  lsn: bigint;
  index: number;
  operation: Operation;
  /** Undefined when the change could not be planned (`error` says why). */
  plan: PlanItem<WorkItem> | undefined;
  error?: ApplyError;
  /** History changes of one transaction are applied together, never split. */
  atomic: boolean;
  lane: number;
}

/**
 * A change that must see every lane of its table caught up (a key change, a
 * truncate, a change of relation shape, ...): each lane's queue holds a
 * marker; the lane-0 worker waits for all markers, applies `items`, releases.
 */
export interface BarrierEntry {
  kind: 'barrier';
  barrier: import('./barrier.js').Barrier;
  lane: number;
  unit: Unit;
  /** The changes, on lane 0's entry only. */
  items: WorkItem[];
}

export type QueueEntry = WorkItem | BarrierEntry;

export function isBarrier(e: QueueEntry): e is BarrierEntry {
  return (e as BarrierEntry).kind === 'barrier';
}
