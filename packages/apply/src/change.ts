/**
 * The apply engine's input: committed source transactions with row changes
 * already resolved against their relation. This type belongs to the engine
 * (not to any replication reader), so any reader can feed it.
 *
 * Exactly once: the engine stores, per source, the position (commit LSN,
 * index of the next change) in the destination in the same transaction as
 * the data it covers, and skips what is at or below it on replay.
 *
 * Values are PostgreSQL text-format strings (what pgoutput sends in its
 * default text mode), `null`, or `UNCHANGED` for a TOASTed value the source
 * did not resend. Tuples are arrays aligned with `relation.columns`.
 */

/**
 * A TOASTed column whose value did not change; never confused with NULL. The
 * same registered symbol as `@kuvasz/pgoutput`'s `UNCHANGED_TOAST`, so a
 * decoded text-mode tuple is already a valid `ChangeTuple`.
 */
export const UNCHANGED: unique symbol = Symbol.for('kuvasz.unchanged-toast');
export type Unchanged = typeof UNCHANGED;

export type ChangeValue = string | null | Unchanged;
export type ChangeTuple = ChangeValue[];

export interface SourceColumn {
  name: string;
  /** Source type OID; used to pick comparisons for types without `=`. */
  typeOid: number;
  /** Source type modifier (pgoutput's atttypmod, -1 for none): names a changed type in errors. */
  typeModifier?: number | undefined;
  /** Part of the replica identity (primary key or identity index). */
  isKey: boolean;
}

export interface SourceRelation {
  schema: string;
  table: string;
  replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
  columns: SourceColumn[];
}

/**
 * A row as its reader received it: pgoutput's text-format TupleData, kept as
 * bytes. The engine decodes values only where it needs them (keys for
 * ordering, statements other than COPY, row rules, error messages); a plain
 * insert goes from these bytes into the COPY payload with only COPY's
 * escaping, so a queued insert holds no string per value.
 *
 * Column `i`'s entries are `offsets[at + 2 * i]`, the byte offset in `bytes`
 * where its UTF-8 text starts (or `WIRE_NULL`, or `WIRE_UNCHANGED` for an
 * unchanged TOAST value), and `offsets[at + 2 * i + 1]`, its byte length.
 * `bytes` and `offsets` may be shared by many tuples (a reader's arena); the
 * engine never writes them and reads them until the change is applied.
 */
export interface WireTuple {
  readonly bytes: Uint8Array;
  readonly offsets: Int32Array;
  readonly at: number;
  /** Number of columns, as in the relation. */
  readonly count: number;
  /**
   * Binary mode (pgoutput's `binary 'true'`): the values are in their types'
   * binary send format, and `binary[i]` gives column `i`'s PostgreSQL text
   * output where text is needed (keys, statements other than COPY, row
   * rules, errors). Such rows go into a `COPY ... (FORMAT binary)` as they
   * are when every column of the target has the source column's built-in
   * type; otherwise they are decoded. Undefined (the default): UTF-8 text.
   */
  readonly binary?: readonly BinaryToText[] | undefined;
}

/** Turns one binary-format value (`bytes[start, start + length)`) into its type's text output. */
export type BinaryToText = (bytes: Uint8Array, start: number, length: number) => string;

export const WIRE_NULL = -1;
export const WIRE_UNCHANGED = -2;

export interface InsertChange {
  op: 'insert';
  relation: SourceRelation;
  /** The new row. May be left out when `wire` carries it. */
  new?: ChangeTuple | undefined;
  /** The new row as bytes (the fast path, see `WireTuple`); used instead of `new` when given. */
  wire?: WireTuple | undefined;
}

export interface UpdateChange {
  op: 'update';
  relation: SourceRelation;
  /** The new row. May be left out when `wire` carries it. */
  new?: ChangeTuple | undefined;
  /**
   * The new row as bytes (see `WireTuple`), used instead of `new` when
   * given. With neither `key` nor `old` (the key did not change), a large
   * batch of such updates goes to the destination from these bytes.
   */
  wire?: WireTuple | undefined;
  /** Old replica identity key, sent when the key changed ('K'); non-key entries are null. */
  key?: ChangeTuple | undefined;
  /** Whole old row under REPLICA IDENTITY FULL ('O'). */
  old?: ChangeTuple | undefined;
}

export interface DeleteChange {
  op: 'delete';
  relation: SourceRelation;
  key?: ChangeTuple | undefined;
  old?: ChangeTuple | undefined;
  /** The old key (or, under REPLICA IDENTITY FULL, the old row) as bytes: used instead of `key` / `old` when given. */
  wire?: WireTuple | undefined;
}

export interface TruncateChange {
  op: 'truncate';
  relations: SourceRelation[];
  cascade: boolean;
  restartIdentity: boolean;
}

export type RowChange = InsertChange | UpdateChange | DeleteChange | TruncateChange;

/** Identifies one source connection: the configured database name and its `sid`. */
export interface SourceId {
  database: string;
  /** Written into the target's `sid` column when it has one. */
  sid: string;
}

export interface SourceTransaction {
  source: SourceId;
  xid?: number | undefined;
  /** LSN of the commit record on the source; positions are compared on this. */
  commitLsn: bigint;
  /**
   * The LSN to acknowledge to the source once this transaction is durable
   * (pgoutput's commit end LSN). Defaults to `commitLsn`.
   */
  endLsn?: bigint | undefined;
  /**
   * Source commit time: a timestamptz literal with microseconds (lossless) or
   * a Date. History versions use it, never the streamer's clock.
   */
  commitTime: string | Date;
  changes: RowChange[];
  /**
   * A large transaction may arrive in parts, in order, each with the index
   * (within the whole transaction) of its first change. Default 0.
   */
  firstChangeIndex?: number | undefined;
  /**
   * False on every part but the last. Only a final part makes the
   * transaction's position acknowledgeable. Default true.
   */
  final?: boolean | undefined;
}
