import { BufferReader } from './buffer-reader.js';
import {
  decodeDelete,
  decodeInsert,
  decodeTruncate,
  decodeUpdate,
  describeByte,
} from './decode-dml.js';
import { decodeRelation, decodeType } from './decode-schema.js';
import {
  decodeStreamAbort,
  decodeStreamCommit,
  decodeStreamStart,
  decodeStreamStop,
} from './decode-stream.js';
import {
  decodeBegin,
  decodeCommit,
  decodeLogicalMessage,
  decodeOrigin,
} from './decode-transaction.js';
import {
  decodeBeginPrepare,
  decodeCommitPrepared,
  decodePrepare,
  decodeRollbackPrepared,
  decodeStreamPrepare,
} from './decode-two-phase.js';
import { assertBytes, PgoutputError } from './errors.js';
import type { PgoutputMessage } from './messages.js';
import { MessageTag } from './tags.js';

export type PgoutputProtoVersion = 1 | 2 | 3 | 4;

export interface PgoutputDecoderOptions {
  /**
   * The `proto_version` requested from pgoutput (default 1). Streaming
   * messages need 2, two-phase messages 3, and the Stream Abort LSN and time
   * 4; a message above this version is refused with code `protocol_version`.
   */
  protoVersion?: PgoutputProtoVersion;
}

/**
 * Decodes pgoutput messages (the payload of XLogData, or the `data` column
 * of `pg_logical_slot_peek_binary_changes`) into typed objects.
 *
 * Stateful only in that, with protocol v2+, DML / Relation / Type / Message
 * between Stream Start and Stream Stop carry a transaction id prefix; call
 * `reset()` when the connection restarts. A decode that throws leaves that
 * state unchanged. Not safe to share between concurrent streams.
 */
export class PgoutputDecoder {
  readonly protoVersion: PgoutputProtoVersion;
  private readonly reader: BufferReader;
  private streaming = false;

  constructor(options: PgoutputDecoderOptions = {}) {
    const v = options.protoVersion ?? 1;
    if (v !== 1 && v !== 2 && v !== 3 && v !== 4) {
      throw new PgoutputError(
        'invalid_argument',
        `protoVersion ${String(v)} is not a pgoutput protocol version; use 1, 2, 3 or 4 (the proto_version you requested)`,
      );
    }
    this.protoVersion = v;
    this.reader = new BufferReader(v);
  }

  /** True between a Stream Start and its Stream Stop. */
  get inStreamBlock(): boolean {
    return this.streaming;
  }

  /** Forgets the stream state, e.g. after a reconnect. */
  reset(): void {
    this.streaming = false;
  }

  /**
   * Decodes one whole message. Throws `PgoutputDecodeError` (and nothing
   * else) on bad input. Text values become strings, binary values fresh
   * `Uint8Array` copies: the result never refers to `data`.
   */
  decode(data: Uint8Array): PgoutputMessage {
    assertBytes(data, 'PgoutputDecoder.decode');
    const r = this.reader;
    r.reset(data);
    try {
      const tag = r.u8('message tag');
      r.tag = tag;
      const msg = this.dispatch(r, tag);
      r.done();
      if (tag === MessageTag.StreamStart) this.streaming = true;
      else if (tag === MessageTag.StreamStop) this.streaming = false;
      return msg;
    } finally {
      // Drop the reference so a decoder kept around does not pin the caller's buffer.
      r.reset(EMPTY);
    }
  }

  private dispatch(r: BufferReader, tag: number): PgoutputMessage {
    switch (tag) {
      case MessageTag.Insert:
        return decodeInsert(r, this.xidPrefix(r));
      case MessageTag.Update:
        return decodeUpdate(r, this.xidPrefix(r));
      case MessageTag.Delete:
        return decodeDelete(r, this.xidPrefix(r));
      case MessageTag.Begin:
        return decodeBegin(r);
      case MessageTag.Commit:
        return decodeCommit(r);
      case MessageTag.Relation:
        return decodeRelation(r, this.xidPrefix(r));
      case MessageTag.Type:
        return decodeType(r, this.xidPrefix(r));
      case MessageTag.Truncate:
        return decodeTruncate(r, this.xidPrefix(r));
      case MessageTag.Message:
        return decodeLogicalMessage(r, this.xidPrefix(r));
      case MessageTag.Origin:
        return decodeOrigin(r);
      case MessageTag.StreamStart:
        this.requireVersion(r, 2, 'Stream Start');
        return decodeStreamStart(r);
      case MessageTag.StreamStop:
        this.requireVersion(r, 2, 'Stream Stop');
        return decodeStreamStop();
      case MessageTag.StreamCommit:
        this.requireVersion(r, 2, 'Stream Commit');
        return decodeStreamCommit(r);
      case MessageTag.StreamAbort:
        this.requireVersion(r, 2, 'Stream Abort');
        return decodeStreamAbort(r);
      case MessageTag.BeginPrepare:
        this.requireVersion(r, 3, 'Begin Prepare');
        return decodeBeginPrepare(r);
      case MessageTag.Prepare:
        this.requireVersion(r, 3, 'Prepare');
        return decodePrepare(r);
      case MessageTag.CommitPrepared:
        this.requireVersion(r, 3, 'Commit Prepared');
        return decodeCommitPrepared(r);
      case MessageTag.RollbackPrepared:
        this.requireVersion(r, 3, 'Rollback Prepared');
        return decodeRollbackPrepared(r);
      case MessageTag.StreamPrepare:
        this.requireVersion(r, 3, 'Stream Prepare');
        return decodeStreamPrepare(r);
      default:
        r.tag = 0;
        return r.fail('unknown_tag', `unknown pgoutput message tag ${describeByte(tag)}`, 0);
    }
  }

  private xidPrefix(r: BufferReader): number | undefined {
    return this.streaming ? r.u32('streamed transaction xid') : undefined;
  }

  private requireVersion(r: BufferReader, min: number, what: string): void {
    if (this.protoVersion < min) {
      r.fail(
        'protocol_version',
        `${what} needs protocol version ${min}+; create the decoder with the proto_version the slot is read with`,
        0,
      );
    }
  }
}

const EMPTY = new Uint8Array(0);
