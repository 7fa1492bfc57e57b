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
  /** Index of the worker that owns the target table. */
  worker: number;
  /** Committed in the destination (loaded at start, advanced on commit). */
  position: Position | undefined;
  /** Highest position queued so far: re-pushed changes at or below it are dropped. */
  enqueued: Position | undefined;
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
}
