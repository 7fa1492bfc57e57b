export { type Logger, noopLogger } from '@kuvasz/core';
export { CopySync } from './copy-sync.js';
export {
  CopyError,
  type CopySide,
  CopySyncError,
  type CopySyncErrorCode,
  SyncFailedError,
} from './errors.js';
export { RowRateLimit } from './rate-limit.js';
export type { BoundCopyRules, CopyRowRules } from './row-rules.js';
export type {
  AcquiredSnapshot,
  CopySyncOptions,
  ProgressEvent,
  SnapshotInfo,
  SourceConnection,
  SourceId,
  SyncSourceOptions,
  TableRef,
  TableSpec,
  TableState,
  TableStatus,
  TableSyncResult,
  TargetType,
} from './types.js';
