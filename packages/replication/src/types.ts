import type { TableRef } from '@kuvasz/core';
import type { ArenaTuple, LogicalMessage, RelationMessage, Tuple } from '@kuvasz/pgoutput';

export type { TableRef };

export interface InsertChange {
  kind: 'insert';
  /** The relation after mapping (see `mapRelation`): tuples align with its `columns`. */
  relation: RelationMessage;
  /** The new row. With `wireInserts`, decoded from `wire` when first read. */
  new: Tuple;
  /**
   * With the stream option `wireInserts`: the new row as text-format bytes
   * in a pooled arena (`@kuvasz/pgoutput`'s `ArenaTuple`), for consumers
   * that write them on as bytes (`@kuvasz/apply`'s `WireTuple` has the same
   * shape).
   */
  wire?: ArenaTuple | undefined;
}

export interface UpdateChange {
  kind: 'update';
  relation: RelationMessage;
  /** The new row. With `wireRows`, decoded from `wire` when first read. */
  new: Tuple;
  /** Old replica identity key ('K'), sent when the key changed. */
  key: Tuple | undefined;
  /** Whole old row ('O'), under REPLICA IDENTITY FULL. */
  old: Tuple | undefined;
  /**
   * With the stream option `wireRows`, for an update that carries no old
   * key or row (its key did not change): the new row as text-format bytes
   * in a pooled arena (an `ArenaTuple`).
   */
  wire?: ArenaTuple | undefined;
}

export interface DeleteChange {
  kind: 'delete';
  relation: RelationMessage;
  key: Tuple | undefined;
  old: Tuple | undefined;
  /** With `wireRows`, for a delete that carries the old key ('K'): that key as bytes (`key` decoded from it when first read). */
  wire?: ArenaTuple | undefined;
}

export interface TruncateChange {
  kind: 'truncate';
  relations: RelationMessage[];
  cascade: boolean;
  restartIdentity: boolean;
}

export type Change = InsertChange | UpdateChange | DeleteChange | TruncateChange;

/**
 * A committed source transaction, or one part of it. Small transactions are
 * one part with `final: true`; large ones arrive as several parts in order,
 * `firstChangeIndex` telling where each starts within the whole transaction.
 */
export interface TransactionPart {
  xid: number;
  /** LSN of the commit record: the transaction's position in commit order. */
  commitLsn: bigint;
  /**
   * End of the commit record: the LSN to pass to `ack()` once the whole
   * transaction is durable. Known only at the commit, so non-final parts of a
   * transaction that was not streamed carry `commitLsn` here.
   */
  endLsn: bigint;
  /** Commit time in microseconds since 2000-01-01 UTC (`pgTimestampToIso` renders it). */
  commitTime: bigint;
  /** Replication origin name when the transaction was replayed into the source by another replication. */
  origin: string | undefined;
  firstChangeIndex: number;
  final: boolean;
  changes: Change[];
  /** Transactional logical messages of this part (the heartbeat prefix filtered out). */
  messages: LogicalMessage[];
}
