export { type Logger, noopLogger, redactPasswords as redactUrl } from '@kuvasz/core';
export type { ConnectOptions, SqlTarget } from './connection.js';
export {
  ConnectionError,
  PreflightError,
  type PreflightProblem,
  type PreflightProblemCode,
  PublicationError,
  ReplicationError,
  type ReplicationErrorCode,
  SlotError,
  SlotInUseError,
  SlotLostError,
  StreamError,
  type StreamErrorCode,
} from './errors.js';
export { isValidSlotName, kuvaszObjectName, MAX_OBJECT_NAME_BYTES } from './naming.js';
export {
  assertPreflight,
  checkServerVersion,
  MIN_SERVER_VERSION_NUM,
  type PreflightOptions,
  type PreflightReport,
  preflight,
} from './preflight.js';
export {
  dropPublication,
  type PublicationTable,
  relationMapper,
  type SyncPublicationOptions,
  type SyncPublicationResult,
  syncPublication,
  type TableAlias,
} from './publication.js';
export {
  assertSlotUsable,
  dropSlot,
  getSlot,
  type SlotHealth,
  slotHealth,
  slotsHealth,
  takeOverSlot,
  type WalStatus,
} from './slot-health.js';
export {
  type CreatedSlot,
  type CreateSlotOptions,
  createSlotWithSnapshot,
  createTemporarySnapshot,
  type PreparedSlot,
  prepareSlot,
  type TemporarySnapshot,
} from './slots.js';
export type { PartLimits } from './stream/part-builder.js';
export type { ProtoVersion, StreamProtocol } from './stream/protocol.js';
export { ReplicationStream, type ReplicationStreamOptions } from './stream/replication-stream.js';
export type { StreamStats } from './stream/stats.js';
export type {
  Change,
  DeleteChange,
  InsertChange,
  TableRef,
  TransactionPart,
  TruncateChange,
  UpdateChange,
} from './types.js';
