/**
 * pgoutput message types (protocol versions 1-4), one interface per message,
 * discriminated on `tag`. See the PostgreSQL documentation, "Logical
 * Replication Message Formats".
 *
 * Conventions:
 * - LSNs are unsigned 64-bit `bigint`s (`Lsn`); use `formatLsn` for `X/Y` text.
 * - Timestamps are `bigint` microseconds since the PostgreSQL epoch
 *   (2000-01-01 00:00:00 UTC), exactly as sent; see `pgTimestampToDate`.
 * - Transaction ids and OIDs are unsigned 32-bit numbers (0 .. 2^32-1).
 * - `xid` on DML / relation / type / message is the transaction id that
 *   protocol v2+ sends inside a streamed transaction block (between Stream
 *   Start and Stream Stop); outside such a block it is `undefined`.
 * - Every interface always carries every property (set to `undefined` where
 *   absent), so decoded objects keep one shape per tag.
 */

export type Lsn = bigint;

/**
 * A TOASTed column whose value did not change: the server did not send it.
 * Distinct from NULL; a consumer must keep the old value. A registered
 * symbol: `@kuvasz/apply` uses the same key for its `UNCHANGED`, so tuples
 * pass from decoder to engine without conversion (and without either
 * package importing the other).
 */
export const UNCHANGED_TOAST: unique symbol = Symbol.for('kuvasz.unchanged-toast');
export type UnchangedToast = typeof UNCHANGED_TOAST;

/**
 * One column of a tuple: `null`, unchanged TOAST, text-format value (a
 * string, decoded as UTF-8), or binary-format value (bytes, in binary mode).
 */
export type TupleValue = null | UnchangedToast | string | Uint8Array;
export type Tuple = TupleValue[];

export type ReplicaIdentity = 'default' | 'nothing' | 'full' | 'index';

export interface BeginMessage {
  tag: 'begin';
  /** LSN of the commit record (the transaction's final LSN). */
  finalLsn: Lsn;
  commitTime: bigint;
  xid: number;
}

export interface CommitMessage {
  tag: 'commit';
  flags: number;
  /** LSN of the commit record. */
  commitLsn: Lsn;
  /** End LSN of the transaction: the position to confirm once applied. */
  endLsn: Lsn;
  commitTime: bigint;
}

export interface OriginMessage {
  tag: 'origin';
  /** Commit LSN of the transaction on the origin server. */
  originLsn: Lsn;
  name: string;
}

export interface RelationColumn {
  /** Raw flags; bit 1 marks a replica identity (key) column. */
  flags: number;
  isKey: boolean;
  name: string;
  typeOid: number;
  typeMod: number;
}

export interface RelationMessage {
  tag: 'relation';
  xid: number | undefined;
  relationOid: number;
  schema: string;
  name: string;
  replicaIdentity: ReplicaIdentity;
  columns: RelationColumn[];
}

/**
 * Sent before a Relation whose columns use non-built-in types. For a domain
 * the server describes the base type (under the domain's OID); a type in
 * `pg_catalog` comes with `schema` set to `''`.
 */
export interface TypeMessage {
  tag: 'type';
  xid: number | undefined;
  typeOid: number;
  schema: string;
  name: string;
}

export interface InsertMessage {
  tag: 'insert';
  xid: number | undefined;
  relationOid: number;
  new: Tuple;
}

export interface UpdateMessage {
  tag: 'update';
  xid: number | undefined;
  relationOid: number;
  /** 'K': the old replica identity key (the key changed); other columns are null. */
  key: Tuple | undefined;
  /** 'O': the whole old row (REPLICA IDENTITY FULL). */
  old: Tuple | undefined;
  new: Tuple;
}

export interface DeleteMessage {
  tag: 'delete';
  xid: number | undefined;
  relationOid: number;
  /** 'K': the replica identity key of the deleted row; other columns are null. */
  key: Tuple | undefined;
  /** 'O': the whole deleted row (REPLICA IDENTITY FULL). */
  old: Tuple | undefined;
}

export interface TruncateMessage {
  tag: 'truncate';
  xid: number | undefined;
  cascade: boolean;
  restartIdentity: boolean;
  relationOids: number[];
}

export interface LogicalMessage {
  tag: 'message';
  xid: number | undefined;
  transactional: boolean;
  /** End of the message's WAL record (for a transactional message, often its commit record's LSN). */
  lsn: Lsn;
  prefix: string;
  content: Uint8Array;
}

export interface StreamStartMessage {
  tag: 'stream_start';
  xid: number;
  firstSegment: boolean;
}

export interface StreamStopMessage {
  tag: 'stream_stop';
}

export interface StreamCommitMessage {
  tag: 'stream_commit';
  xid: number;
  flags: number;
  commitLsn: Lsn;
  endLsn: Lsn;
  commitTime: bigint;
}

export interface StreamAbortMessage {
  tag: 'stream_abort';
  xid: number;
  /** The aborted (sub)transaction; equal to `xid` when the whole transaction aborted. */
  subXid: number;
  /** Protocol v4 with parallel streaming only. */
  abortLsn: Lsn | undefined;
  /** Protocol v4 with parallel streaming only. */
  abortTime: bigint | undefined;
}

export interface BeginPrepareMessage {
  tag: 'begin_prepare';
  prepareLsn: Lsn;
  endLsn: Lsn;
  prepareTime: bigint;
  xid: number;
  gid: string;
}

export interface PrepareMessage {
  tag: 'prepare';
  flags: number;
  prepareLsn: Lsn;
  endLsn: Lsn;
  prepareTime: bigint;
  xid: number;
  gid: string;
}

export interface CommitPreparedMessage {
  tag: 'commit_prepared';
  flags: number;
  commitLsn: Lsn;
  endLsn: Lsn;
  commitTime: bigint;
  xid: number;
  gid: string;
}

export interface RollbackPreparedMessage {
  tag: 'rollback_prepared';
  flags: number;
  prepareEndLsn: Lsn;
  rollbackEndLsn: Lsn;
  prepareTime: bigint;
  rollbackTime: bigint;
  xid: number;
  gid: string;
}

export interface StreamPrepareMessage {
  tag: 'stream_prepare';
  flags: number;
  prepareLsn: Lsn;
  endLsn: Lsn;
  prepareTime: bigint;
  xid: number;
  gid: string;
}

export type PgoutputMessage =
  | BeginMessage
  | CommitMessage
  | OriginMessage
  | RelationMessage
  | TypeMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | LogicalMessage
  | StreamStartMessage
  | StreamStopMessage
  | StreamCommitMessage
  | StreamAbortMessage
  | BeginPrepareMessage
  | PrepareMessage
  | CommitPreparedMessage
  | RollbackPreparedMessage
  | StreamPrepareMessage;

export type PgoutputTag = PgoutputMessage['tag'];

/** Replication framing, CopyData 'w': one pgoutput message and its WAL position. */
export interface XLogData {
  tag: 'xlogdata';
  walStart: Lsn;
  walEnd: Lsn;
  serverClock: bigint;
  /** The pgoutput message; a view into the frame (copy it to keep it). */
  data: Uint8Array;
}

/** Replication framing, CopyData 'k': the server's keepalive. */
export interface PrimaryKeepalive {
  tag: 'keepalive';
  walEnd: Lsn;
  serverClock: bigint;
  replyRequested: boolean;
}

export type ReplicationFrame = XLogData | PrimaryKeepalive;

/** Replication framing, CopyData 'r': what the client reports back. */
export interface StandbyStatusUpdate {
  /** Last WAL byte + 1 received and written. */
  writeLsn: Lsn;
  /** Last WAL byte + 1 durably flushed by the consumer: the server may discard WAL before it. */
  flushLsn: Lsn;
  /** Last WAL byte + 1 applied. */
  applyLsn: Lsn;
  /** Client clock in microseconds since the PostgreSQL epoch (default: now). */
  clock?: bigint;
  replyRequested?: boolean;
}
