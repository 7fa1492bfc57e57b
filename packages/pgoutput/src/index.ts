export {
  BINARY_TEXT_SETTINGS_SQL,
  BINARY_TYPE_INFO_SQL,
  type BinaryTextDecoder,
  BinaryTextDecoders,
  type BinaryTextQuery,
  type BinaryTextSettings,
  type BinaryTypeInfo,
  binaryTextSettingsProblem,
  loadBinaryTextDecoders,
} from './binary-text.js';
export { HASH_SEED, hashBytes } from './column-hash.js';
export { CopyBuffer } from './copy-buffer.js';
export {
  CopyDataAssembler,
  type CopyDataAssemblerOptions,
} from './copy-data-assembler.js';
export { appendCopyNull, appendCopyText, writeCopyRow } from './copy-text.js';
export {
  PgoutputDecodeError,
  type PgoutputDecodeErrorCode,
  PgoutputError,
  type PgoutputErrorCode,
  PgoutputRelationError,
} from './errors.js';
export { compareLsn, formatLsn, MAX_LSN, parseLsn } from './lsn.js';
export { MessageView, type MessageViewOptions } from './message-view.js';
export {
  type BeginMessage,
  type BeginPrepareMessage,
  type CommitMessage,
  type CommitPreparedMessage,
  type DeleteMessage,
  type InsertMessage,
  type LogicalMessage,
  type Lsn,
  type OriginMessage,
  type PgoutputMessage,
  type PgoutputTag,
  type PrepareMessage,
  type PrimaryKeepalive,
  type RelationColumn,
  type RelationMessage,
  type ReplicaIdentity,
  type ReplicationFrame,
  type RollbackPreparedMessage,
  type StandbyStatusUpdate,
  type StreamAbortMessage,
  type StreamCommitMessage,
  type StreamPrepareMessage,
  type StreamStartMessage,
  type StreamStopMessage,
  type TruncateMessage,
  type Tuple,
  type TupleValue,
  type TypeMessage,
  UNCHANGED_TOAST,
  type UnchangedToast,
  type UpdateMessage,
  type XLogData,
} from './messages.js';
export {
  dateToPgTimestamp,
  nowPgTimestamp,
  PG_EPOCH_MS,
  PG_TIMESTAMP_INFINITY,
  PG_TIMESTAMP_MINUS_INFINITY,
  pgTimestampToDate,
  pgTimestampToIso,
} from './pg-time.js';
export {
  PgoutputDecoder,
  type PgoutputDecoderOptions,
  type PgoutputProtoVersion,
} from './pgoutput-decoder.js';
export { RelationCache } from './relation-cache.js';
export {
  encodeStandbyStatusUpdate,
  parseReplicationFrame,
  STANDBY_STATUS_UPDATE_BYTES,
  XLOGDATA_HEADER_BYTES,
  xlogDataStart,
} from './replication-frame.js';
export { ColumnKind, MessageTag, TupleTag } from './tags.js';
export {
  ARENA_NULL,
  ARENA_UNCHANGED,
  type ArenaBinaryDecoders,
  type ArenaTuple,
  arenaValues,
  TupleArena,
} from './tuple-arena.js';
export { TupleView } from './tuple-view.js';
export {
  createTypeParsers,
  defaultTypeParsers,
  PG_TYPE_OIDS,
  type TypeParser,
  type TypeParserOptions,
  type TypeParsers,
} from './type-parsers.js';
