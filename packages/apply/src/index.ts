export { formatLsn, type LeaseFence, type Logger, parseLsn } from '@kuvasz/core';
export {
  type ChangeTuple,
  type ChangeValue,
  type DeleteChange,
  type InsertChange,
  type RowChange,
  type SourceColumn,
  type SourceId,
  type SourceRelation,
  type SourceTransaction,
  type TruncateChange,
  UNCHANGED,
  type Unchanged,
  type UpdateChange,
  WIRE_NULL,
  WIRE_UNCHANGED,
  type WireTuple,
} from './change.js';
export {
  ApplyEngine,
  type ApplyMetrics,
  type DurableListener,
  type SourceFailedListener,
  type SourceStatus,
  type TableWatermark,
} from './engine.js';
export { ApplyError, type ApplyErrorCode, type ApplyErrorContext, TargetError } from './errors.js';
export type { RetryOptions } from './executor/retry.js';
export type { ApplyEngineOptions, TableMapping } from './options.js';
export type {
  BoundRowRules,
  ComputedColumn,
  RowOp,
  RowRules,
  RowTest,
} from './row-rules.js';
export type { Operation, OperationResult, StatEntry } from './stats.js';
export {
  type ColumnDescription,
  describeTable,
  type Queryable,
  type TableDescription,
  type TableRef,
} from './target/describe-table.js';
export {
  HISTORY_START,
  OPEN_END,
  type PlanTargetOptions,
  planTargetDdl,
  type TableType,
  type ValidateTargetOptions,
  validateTarget,
} from './target/target-ddl.js';
