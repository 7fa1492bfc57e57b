import { formatLsn, type Logger } from '@kuvasz/core';
import {
  type ArenaBinaryDecoders,
  MessageTag,
  MessageView,
  type PgoutputMessage,
  type PgoutputProtoVersion,
  type RelationCache,
  type RelationMessage,
  TupleArena,
  TupleTag,
  type TupleView,
} from '@kuvasz/pgoutput';
import { StreamError } from '../errors.js';
import type { Change, TransactionPart } from '../types.js';
import {
  type DmlMessage,
  PartBuilder,
  type PartHeader,
  type PartLimits,
  type RelationMapping,
  relationOids,
  toChange,
  WireDeleteChange,
  WireInsertChange,
  WireUpdateChange,
} from './part-builder.js';
import { ReplaySource } from './replay-source.js';
import type { SpillDir } from './spill-dir.js';
import type { MemoryBudget } from './spill-log.js';
import type { StreamStats } from './stats.js';
import { type StreamedTransaction, StreamedTransactions } from './streamed-transactions.js';

/** Where assembled transactions go. */
export interface AssemblerSink {
  /** A part of a transaction that was not streamed (parts of one transaction arrive in order). */
  part(part: TransactionPart): void;
  /** A committed streamed transaction, to be replayed as parts. */
  replay(source: ReplaySource): void;
  /** A commit with something for the consumer was received: its end LSN must be acked. */
  committed(endLsn: bigint): void;
  /** A position with nothing for the consumer before it (empty transaction, heartbeat). */
  confirmable(lsn: bigint): void;
}

export interface AssemblerOptions {
  stats: StreamStats;
  protoVersion: PgoutputProtoVersion;
  relations: RelationCache;
  mapping: RelationMapping;
  limits: PartLimits;
  heartbeatPrefix: string | undefined;
  budget: MemoryBudget;
  spillDir: SpillDir;
  slot: string;
  log: Logger;
  sink: AssemblerSink;
  /** Inserts outside stream blocks as bytes (`InsertChange.wire`). */
  wireInserts?: boolean;
  /** Updates without an old tuple and deletes by key as bytes too (`wireRows`). */
  wireRows?: boolean;
  /** Binary mode: a relation's decoders for wire rows (see `ReplicationStreamOptions.binaryText`). */
  binaryText?: ((relation: RelationMessage) => ArenaBinaryDecoders | undefined) | undefined;
}

interface OpenTransaction {
  xid: number;
  commitLsn: bigint;
  commitTime: bigint;
  origin: string | undefined;
  builder: PartBuilder;
}

/**
 * Turns decoded pgoutput messages into transaction parts. Transactions that
 * were not streamed are passed on part by part as they arrive (the server
 * sends them only after their commit); streamed ones are kept in spill logs
 * until Stream Commit, dropped on Stream Abort, and cut back on a
 * subtransaction's abort.
 */
export class TransactionAssembler {
  private tx: OpenTransaction | undefined;
  private streamTx: StreamedTransaction | undefined;
  private readonly streamed: StreamedTransactions;
  private readonly view: MessageView | undefined;
  private readonly arena: TupleArena | undefined;

  constructor(private readonly o: AssemblerOptions) {
    this.streamed = new StreamedTransactions(o.budget, o.spillDir);
    if (o.wireInserts) {
      this.view = new MessageView({ protoVersion: o.protoVersion });
      this.arena = new TupleArena();
    }
  }

  /** True while a transaction is half received, or a streamed one is open. */
  get busy(): boolean {
    return this.tx !== undefined || this.streamed.size > 0;
  }

  get openStreamed(): number {
    return this.streamed.size;
  }

  handle(msg: PgoutputMessage, raw: Uint8Array): void {
    const s = this.streamTx;
    switch (msg.tag) {
      case 'begin':
        if (this.tx || s) this.fail(`Begin of transaction ${msg.xid} inside another transaction`);
        this.tx = {
          xid: msg.xid,
          commitLsn: msg.finalLsn,
          commitTime: msg.commitTime,
          origin: undefined,
          builder: new PartBuilder(this.o.limits),
        };
        return;
      case 'origin':
        if (s) s.origin = msg.name;
        else if (this.tx) this.tx.origin = msg.name;
        return;
      case 'relation':
        if (s) s.setRelation(msg);
        else this.o.relations.set(msg);
        return;
      case 'type':
        return;
      case 'insert':
      case 'update':
      case 'delete':
      case 'truncate':
        this.change(msg, raw, s);
        return;
      case 'message':
        this.message(msg, raw, s);
        return;
      case 'commit':
        this.commit(msg.commitLsn, msg.endLsn, msg.commitTime);
        return;
      case 'stream_start':
        if (this.tx || s) this.fail(`Stream Start of ${msg.xid} inside another transaction`);
        this.streamTx = this.streamed.getOrCreate(msg.xid);
        return;
      case 'stream_stop':
        this.streamTx = undefined;
        return;
      case 'stream_commit':
        this.streamCommit(msg.xid, msg.commitLsn, msg.endLsn, msg.commitTime);
        return;
      case 'stream_abort':
        if (msg.subXid === msg.xid) {
          if (this.streamed.abort(msg.xid)) this.o.stats.streamedAborted++;
          this.o.log.debug({ xid: msg.xid }, 'streamed transaction aborted');
        } else if (this.streamed.get(msg.xid)?.abortSubxact(msg.subXid)) {
          this.o.stats.subtransactionsAborted++;
        }
        return;
      default:
        // Two-phase messages need the slot created with two_phase, which we never do.
        this.fail(`unexpected pgoutput message '${msg.tag}' (two-phase decoding is not enabled)`);
    }
  }

  /**
   * Fast path for Insert/Update/Delete inside a stream block: the change is
   * stored as raw bytes and decoded only at replay, so only its xid and
   * relation OID are read here (tag, u32 xid, u32 relation OID). False when
   * the message is not one of those, or not in a stream block.
   */
  handleStreamedRow(raw: Uint8Array): boolean {
    const s = this.streamTx;
    if (!s || raw.length < 9) return false;
    const tag = raw[0];
    if (tag !== 0x49 && tag !== 0x55 && tag !== 0x44) return false; // 'I' 'U' 'D'
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const xid = view.getUint32(1);
    const oid = view.getUint32(5);
    s.appendChange(xid, [s.resolve(oid, this.o.relations) ?? this.noRelation(oid)], raw);
    return true;
  }

  /**
   * Fast path for an Insert of a transaction that was not streamed, with
   * `wireInserts` (and, with `wireRows`, an Update without an old tuple or
   * a Delete by key): the view finds the tuple's columns in place, the arena
   * copies its bytes, and no message object or string is made. False when
   * the message is something else (or has a binary column): decode it.
   */
  handleWireRow(buf: Uint8Array, start: number, end: number): boolean {
    const view = this.view;
    if (!view || this.streamTx || !this.tx) return false;
    const tag = buf[start];
    const rows = this.o.wireRows === true;
    if (
      tag !== MessageTag.Insert &&
      !(rows && (tag === MessageTag.Update || tag === MessageTag.Delete))
    )
      return false;
    // Throws the decoder's typed error on a malformed message, as `handle` would.
    view.reset(buf, start, end - start);
    let Kind: typeof WireInsertChange | typeof WireUpdateChange | typeof WireDeleteChange;
    let row: TupleView;
    if (tag === MessageTag.Insert) {
      Kind = WireInsertChange;
      row = view.newTuple;
    } else if (tag === MessageTag.Update) {
      // A key change ('K') or REPLICA IDENTITY FULL ('O'): decoded, as they are rare or need the old values.
      if (view.oldMarker !== 0) return false;
      Kind = WireUpdateChange;
      row = view.newTuple;
    } else {
      if (view.oldMarker !== TupleTag.Key) return false;
      Kind = WireDeleteChange;
      row = view.oldTuple;
    }
    const relation = this.relation(view.relationOid);
    // Binary mode: a relation without decoders is decoded into objects.
    const decoders = this.o.binaryText?.(relation);
    if (this.o.binaryText && !decoders) return false;
    const tuple = this.arena!.add(row, decoders);
    if (!tuple) return false;
    const change: Change = new Kind(relation, tuple);
    this.tx.builder.addChange(change, end - start);
    this.partIfFull(this.tx);
    return true;
  }

  /** Drops everything half received (reconnect, close): spill files included. */
  dispose(): void {
    this.tx = undefined;
    this.streamTx = undefined;
    this.streamed.disposeAll();
  }

  private change(msg: DmlMessage, raw: Uint8Array, s: StreamedTransaction | undefined): void {
    if (s) {
      s.appendChange(
        msg.xid,
        relationOids(msg).map((oid) => s.resolve(oid, this.o.relations) ?? this.noRelation(oid)),
        raw,
      );
      return;
    }
    const tx = this.tx ?? this.fail(`${msg.tag} outside a transaction`);
    const rels = relationOids(msg).map((oid) => this.relation(oid));
    tx.builder.addChange(toChange(msg, rels), raw.length);
    this.partIfFull(tx);
  }

  private message(
    msg: Extract<PgoutputMessage, { tag: 'message' }>,
    raw: Uint8Array,
    s: StreamedTransaction | undefined,
  ): void {
    const ours = this.o.heartbeatPrefix !== undefined && msg.prefix === this.o.heartbeatPrefix;
    if (!msg.transactional) {
      // Not part of any transaction, and everything before it has been
      // received: a safe position to confirm (our heartbeats exist for this).
      if (!this.tx && !s) this.o.sink.confirmable(msg.lsn);
      if (!ours) {
        this.o.log.debug(
          { prefix: msg.prefix, lsn: formatLsn(msg.lsn) },
          'non-transactional logical message skipped',
        );
      }
      return;
    }
    if (ours) return;
    if (s) {
      s.appendMessage(msg.xid, raw);
      return;
    }
    const tx = this.tx ?? this.fail('transactional message outside a transaction');
    tx.builder.addMessage(msg, raw.length);
    this.partIfFull(tx);
  }

  private commit(commitLsn: bigint, endLsn: bigint, commitTime: bigint): void {
    const tx = this.tx ?? this.fail('Commit outside a transaction');
    if (commitLsn !== tx.commitLsn) {
      this.fail(
        `Commit LSN ${formatLsn(commitLsn)} differs from its Begin's final LSN ${formatLsn(tx.commitLsn)}`,
      );
    }
    this.tx = undefined;
    if (tx.builder.isEmpty && tx.builder.emitted === 0) {
      // Nothing published in it (PostgreSQL < 15 sends such transactions).
      this.o.sink.confirmable(endLsn);
      return;
    }
    this.o.sink.committed(endLsn);
    this.o.sink.part(tx.builder.take(this.header(tx, endLsn, commitTime), true));
  }

  private streamCommit(xid: number, commitLsn: bigint, endLsn: bigint, commitTime: bigint): void {
    if (this.tx || this.streamTx) this.fail(`Stream Commit of ${xid} inside another transaction`);
    const tx = this.streamed.take(xid);
    if (!tx) {
      this.o.sink.confirmable(endLsn);
      return;
    }
    tx.publishRelations(this.o.relations);
    if (tx.changes + tx.messages === 0) {
      tx.dispose();
      this.o.sink.confirmable(endLsn);
      return;
    }
    this.o.log.debug(
      { xid, changes: tx.changes, spilled: tx.log.spilled, bytes: tx.log.size },
      'streamed transaction committed',
    );
    this.o.stats.streamedCommitted++;
    this.o.sink.committed(endLsn);
    this.o.sink.replay(
      new ReplaySource(
        tx,
        { xid, commitLsn, endLsn, commitTime, origin: tx.origin },
        {
          protoVersion: this.o.protoVersion,
          mapping: this.o.mapping,
          limits: this.o.limits,
          slot: this.o.slot,
        },
      ),
    );
  }

  private header(tx: OpenTransaction, endLsn: bigint, commitTime = tx.commitTime): PartHeader {
    return {
      xid: tx.xid,
      commitLsn: tx.commitLsn,
      endLsn,
      commitTime,
      origin: tx.origin,
    };
  }

  /** A change's relation as reported (mapped: partitions, aliases). */
  private relation(oid: number): RelationMessage {
    return this.o.mapping.apply(this.o.relations.get(oid) ?? this.noRelation(oid));
  }

  /** A part that reached its limits goes to the consumer before the transaction's commit. */
  private partIfFull(tx: OpenTransaction): void {
    if (tx.builder.isFull) this.o.sink.part(tx.builder.take(this.header(tx, tx.commitLsn), false));
  }

  private noRelation(oid: number): RelationMessage {
    return this.fail(
      `a change refers to relation ${oid}, whose Relation message was never received`,
    );
  }

  private fail(what: string): never {
    throw new StreamError('protocol_error', this.o.slot, `replication protocol error: ${what}`);
  }
}
