import type { Logger } from '@kuvasz/core';
import type { ArenaBinaryDecoders, RelationMessage } from '@kuvasz/pgoutput';
import type { CreatedSlot } from '../slots.js';
import type { TableRef } from '../types.js';
import type { PartLimits } from './part-builder.js';
import type { ProtoVersion } from './protocol.js';

export interface ReplicationStreamOptions {
  connectionString: string;
  slot: string;
  publication: string;
  /**
   * A slot just made by `createSlotWithSnapshot`: the stream starts on its
   * still-open connection at its consistent point (no gap after the copy),
   * and owns that connection from then on.
   */
  createdSlot?: CreatedSlot;
  /**
   * Where to resume: the position the destination durably holds (default:
   * the slot's `confirmed_flush_lsn`, or the created slot's consistent
   * point). The server never goes back before the slot's own position.
   */
  startLsn?: bigint;
  /** pgoutput protocol (default 'auto': the highest that fits, see `chooseProtocol`). */
  protoVersion?: 'auto' | ProtoVersion;
  /** Column values as binary (PostgreSQL 14+, default false: text). */
  binary?: boolean;
  /**
   * With `binary`, the decoders of a relation's columns from their binary
   * format to text (`@kuvasz/pgoutput`'s `BinaryTextDecoders`), which makes
   * `wireInserts` / `wireRows` work in binary mode: the wire tuples carry
   * them (`ArenaTuple.binary`). Undefined for a relation: its changes are
   * decoded into objects (binary values as bytes).
   */
  binaryText?: (relation: RelationMessage) => ArenaBinaryDecoders | undefined;
  /**
   * Inserts of transactions that were not streamed carry their new row as
   * bytes (`InsertChange.wire`) and decode `new` only when it is read
   * (default false): a consumer that writes rows on as bytes then holds no
   * string per value. Text mode, or binary mode with `binaryText`.
   */
  wireInserts?: boolean;
  /**
   * `wireInserts`, and updates whose key did not change and deletes by key
   * carry their row as bytes too (`UpdateChange.wire`, `DeleteChange.wire`;
   * default false). Text mode, or binary mode with `binaryText`.
   */
  wireRows?: boolean;
  /** Deliver transactional logical messages (PostgreSQL 14+, default true). */
  messages?: boolean;
  /** Let the server stream large in-progress transactions (protocol 2+, default true). */
  streaming?: boolean;
  /** Standby status update period; keep it below the server's wal_sender_timeout (default 10,000 ms). */
  statusIntervalMs?: number;
  /**
   * Periodic `pg_logical_emit_message(false, prefix, ...)` on a normal
   * connection (default off). `intervalMs: 0` only recognises messages with
   * `prefix` as heartbeats (someone else writes them: the streamer's health
   * monitor, over one connection for many sources).
   */
  heartbeat?: { intervalMs: number; prefix?: string } | false;
  /** Streamed transactions past `memoryBytes` (default 32 MiB) go to temp files in `dir` (default the OS temp dir). */
  spill?: { memoryBytes?: number; dir?: string };
  /** Size of transaction parts (default 5,000 changes or 4 MiB). */
  part?: Partial<PartLimits>;
  /** Parts received ahead of the consumer before the socket is paused (default 2). */
  maxQueuedParts?: number;
  /** Reconnect backoff: waits of 500 ms doubling to 30 s by default, each between half and all of that (`backoffMs` of `@kuvasz/core`); attempts unlimited. */
  reconnect?: { initialMs?: number; maxMs?: number; maxAttempts?: number };
  /** Report changes of a relation under another name (PostgreSQL 12 partitions, partitions_regex); see `relationMapper`. */
  mapRelation?: (relation: TableRef) => TableRef | undefined;
  applicationName?: string;
  connectTimeoutMs?: number;
  logger?: Logger;
}
