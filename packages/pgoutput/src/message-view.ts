import { int64At, uint32At, uint64At } from './big-endian.js';
import { BufferReader } from './buffer-reader.js';
import { decodeMessage } from './decode-message.js';
import { assertBytes, PgoutputDecodeError, PgoutputError } from './errors.js';
import type { PgoutputMessage } from './messages.js';
import { type PgoutputProtoVersion, protoVersionOption } from './pgoutput-decoder.js';
import { XLOGDATA_HEADER_BYTES } from './replication-frame.js';
import { FrameTag, MessageTag, TupleTag } from './tags.js';
import { TupleView } from './tuple-view.js';

const EMPTY = new Uint8Array(0);

// Whole sizes of the fixed-size messages the view reads itself.
const BEGIN_BYTES = 21; // 'B', final LSN, commit time, xid
const COMMIT_BYTES = 26; // 'C', flags, commit LSN, end LSN, commit time
const STREAM_START_BYTES = 6; // 'S', xid, first segment flag
const STREAM_STOP_BYTES = 1; // 'E'
const STREAM_COMMIT_BYTES = 30; // 'c', xid, flags, commit LSN, end LSN, commit time
const STREAM_ABORT_BYTES = 9; // 'A', xid, subtransaction xid
const STREAM_ABORT_V4_BYTES = 25; // and with v4 parallel streaming: abort LSN, abort time

export interface MessageViewOptions {
  /** The `proto_version` requested from pgoutput (default 1), as for `PgoutputDecoder`. */
  protoVersion?: PgoutputProtoVersion;
}

/**
 * A lazy view over one pgoutput message, reused for every message of a
 * stream: `reset` (or `resetFrame`) points it at the next message and
 * returns its tag; the fields and the tuples' column offsets are then read
 * from the bytes in place. Nothing is allocated per message for DML,
 * Begin, Commit and the stream messages; values are decoded only when asked
 * (`newTuple.text(i)`), LSNs and times become bigints only when read. Other
 * messages (Relation, Type, Origin, Message, Truncate, two-phase) are
 * decoded by the object decoder at `reset`: `toMessage()` returns them.
 *
 * Everything the view exposes is valid until the next reset, and the view
 * keeps a reference to the buffer until then. It accepts and refuses
 * exactly what `PgoutputDecoder` does, throwing the same
 * `PgoutputDecodeError` (code, tag and offset relative to the message), with
 * one difference: a text value's UTF-8 is checked when it is decoded
 * (`text`, `value`), not at `reset`. Like the decoder it keeps the stream
 * state (inside Stream Start / Stop, changes carry an xid); a reset that
 * throws leaves that state unchanged and the view on no message (tag 0).
 */
export class MessageView {
  readonly protoVersion: PgoutputProtoVersion;
  /** The new row of an Insert or Update. */
  readonly newTuple = new TupleView();
  /** The old key ('K') or old row ('O') of an Update or Delete: see `oldMarker`. */
  readonly oldTuple = new TupleView();
  private buf: Uint8Array = EMPTY;
  private start = 0;
  private end = 0;
  /** Offset of the XLogData header in `buf`, or -1 when reset onto a bare message. */
  private frameAt = -1;
  private currentTag = 0;
  private currentRelation = 0;
  private currentXid = -1;
  private currentOldMarker = 0;
  private streaming = false;
  /** The stream state the current message was read in, for `toMessage`. */
  private readInStream = false;
  private rare: PgoutputMessage | undefined;
  private readonly reader: BufferReader;

  constructor(options: MessageViewOptions = {}) {
    this.protoVersion = protoVersionOption(options.protoVersion);
    this.reader = new BufferReader(this.protoVersion);
  }

  /** The current message's tag byte (`MessageTag`), 0 when the view is on no message. */
  get tag(): number {
    return this.currentTag;
  }

  /** The relation OID of an Insert, Update, Delete or Relation; 0 for other messages. */
  get relationOid(): number {
    return this.currentRelation;
  }

  /**
   * The transaction id the message carries, -1 when it has none: Begin's
   * xid, the stream messages' xid, and the xid that protocol v2+ puts before
   * DML, Relation, Type, Truncate and Message inside a stream block.
   */
  get xid(): number {
    return this.currentXid;
  }

  /**
   * For an Update or Delete, `TupleTag.Key` ('K': `oldTuple` holds the old
   * replica identity key) or `TupleTag.Old` ('O': the whole old row, REPLICA
   * IDENTITY FULL); 0 when there is no old tuple (Insert, Update without one).
   */
  get oldMarker(): number {
    return this.currentOldMarker;
  }

  /** True between a Stream Start and its Stream Stop. */
  get inStreamBlock(): boolean {
    return this.streaming;
  }

  /** Forgets the stream state, e.g. after a reconnect (`PgoutputDecoder.reset()`). */
  clearStreamState(): void {
    this.streaming = false;
  }

  /**
   * Points the view at the pgoutput message in `buf[offset, offset + length)`
   * (an XLogData payload, or a `data` value of `pg_logical_slot_peek_binary_changes`)
   * and returns its tag. Throws `PgoutputDecodeError` as the object decoder does.
   */
  reset(buf: Uint8Array, offset = 0, length: number = buf.length - offset): number {
    checkRange(buf, offset, length, 'MessageView.reset');
    this.frameAt = -1;
    return this.load(buf, offset, offset + length);
  }

  /**
   * Like `reset`, for a whole CopyData payload of the replication stream:
   * an XLogData frame ('w', 25-byte header, then the message). Returns the
   * message's tag, or 0 for anything else (a keepalive, or a frame too short
   * or unknown: parse those with `parseReplicationFrame`, which reports what
   * is wrong). Error offsets are relative to the message, not the frame.
   */
  resetFrame(frame: Uint8Array, offset = 0, length: number = frame.length - offset): number {
    checkRange(frame, offset, length, 'MessageView.resetFrame');
    this.frameAt = -1;
    if (length < XLOGDATA_HEADER_BYTES || frame[offset] !== FrameTag.XLogData) {
      this.currentTag = 0;
      return 0;
    }
    const tag = this.load(frame, offset + XLOGDATA_HEADER_BYTES, offset + length);
    this.frameAt = offset;
    return tag;
  }

  /** XLogData's WAL start (after `resetFrame`): the message's LSN. */
  get walStart(): bigint {
    return uint64At(this.buf, this.frameField('walStart') + 1);
  }

  /** XLogData's WAL end (after `resetFrame`). */
  get walEnd(): bigint {
    return uint64At(this.buf, this.frameField('walEnd') + 9);
  }

  /** XLogData's server clock (after `resetFrame`), microseconds since 2000-01-01. */
  get serverClock(): bigint {
    return int64At(this.buf, this.frameField('serverClock') + 17);
  }

  /** Begin: the LSN of the transaction's commit record. */
  get finalLsn(): bigint {
    this.expect(MessageTag.Begin, 'finalLsn', 'Begin');
    return uint64At(this.buf, this.start + 1);
  }

  /** Commit, Stream Commit: flags (unused by the server so far). */
  get flags(): number {
    return this.buf[this.commitFields('flags')]!;
  }

  /** Commit, Stream Commit: the LSN of the commit record. */
  get commitLsn(): bigint {
    return uint64At(this.buf, this.commitFields('commitLsn') + 1);
  }

  /** Commit, Stream Commit: the end of the transaction, the position to confirm once applied. */
  get endLsn(): bigint {
    return uint64At(this.buf, this.commitFields('endLsn') + 9);
  }

  /** Begin, Commit, Stream Commit: commit time, microseconds since 2000-01-01. */
  get commitTime(): bigint {
    if (this.currentTag === MessageTag.Begin) return int64At(this.buf, this.start + 9);
    return int64At(this.buf, this.commitFields('commitTime') + 17);
  }

  /** Stream Start: true on the transaction's first segment. */
  get firstSegment(): boolean {
    this.expect(MessageTag.StreamStart, 'firstSegment', 'Stream Start');
    return this.buf[this.start + 5] === 1;
  }

  /** Stream Abort: the aborted (sub)transaction; equal to `xid` when the whole transaction aborted. */
  get subXid(): number {
    this.expect(MessageTag.StreamAbort, 'subXid', 'Stream Abort');
    return uint32At(this.buf, this.start + 5);
  }

  /** Stream Abort with protocol v4 and parallel streaming: the abort LSN (else undefined). */
  get abortLsn(): bigint | undefined {
    this.expect(MessageTag.StreamAbort, 'abortLsn', 'Stream Abort');
    if (this.end - this.start !== STREAM_ABORT_V4_BYTES) return undefined;
    return uint64At(this.buf, this.start + 9);
  }

  /** Stream Abort with protocol v4 and parallel streaming: the abort time (else undefined). */
  get abortTime(): bigint | undefined {
    this.expect(MessageTag.StreamAbort, 'abortTime', 'Stream Abort');
    if (this.end - this.start !== STREAM_ABORT_V4_BYTES) return undefined;
    return int64At(this.buf, this.start + 17);
  }

  /**
   * The current message as the object decoder gives it: the one already
   * decoded for Relation, Type, Origin, Message, Truncate and two-phase
   * messages, a fresh decode for the others (allocating as the decoder does).
   */
  toMessage(): PgoutputMessage {
    if (this.currentTag === 0) {
      throw new PgoutputError(
        'invalid_argument',
        'the view is on no message: reset it onto one first (a reset that threw leaves it on none)',
      );
    }
    return this.rare ?? decodeMessage(this.reader, this.message(), this.readInStream);
  }

  private load(buf: Uint8Array, start: number, end: number): number {
    this.currentTag = 0;
    this.rare = undefined;
    this.buf = buf;
    this.start = start;
    this.end = end;
    const size = end - start;
    if (size === 0) return this.fail();
    const tag = buf[start]!;
    const v = this.protoVersion;
    let xid = -1;
    switch (tag) {
      case MessageTag.Insert:
      case MessageTag.Update:
      case MessageTag.Delete:
        return this.loadChange(tag);
      case MessageTag.Begin:
        if (size !== BEGIN_BYTES) return this.fail();
        xid = uint32At(buf, start + 17);
        break;
      case MessageTag.Commit:
        if (size !== COMMIT_BYTES) return this.fail();
        break;
      case MessageTag.StreamStart:
        if (v < 2 || size !== STREAM_START_BYTES || buf[start + 5]! > 1) return this.fail();
        xid = uint32At(buf, start + 1);
        break;
      case MessageTag.StreamStop:
        if (v < 2 || size !== STREAM_STOP_BYTES) return this.fail();
        break;
      case MessageTag.StreamCommit:
        if (v < 2 || size !== STREAM_COMMIT_BYTES) return this.fail();
        xid = uint32At(buf, start + 1);
        break;
      case MessageTag.StreamAbort:
        if (v < 2 || !(size === STREAM_ABORT_BYTES || (v >= 4 && size === STREAM_ABORT_V4_BYTES)))
          return this.fail();
        xid = uint32At(buf, start + 1);
        break;
      default:
        return this.loadRare(tag);
    }
    this.newTuple.clear();
    this.oldTuple.clear();
    return this.done(tag, xid, 0, 0);
  }

  /** Insert, Update, Delete: [xid] Int32 relation OID, then 'K' / 'O' / 'N' tuples by tag. */
  private loadChange(tag: number): number {
    const b = this.buf;
    const end = this.end;
    const base = this.start;
    const v = this.protoVersion;
    let p = base + 1;
    let xid = -1;
    if (this.streaming) {
      if (end - p < 4) return this.fail();
      xid = uint32At(b, p);
      p += 4;
    }
    if (end - p < 5) return this.fail();
    const relationOid = uint32At(b, p);
    let marker = b[p + 4]!;
    p += 5;
    let oldMarker = 0;
    if (marker === TupleTag.Key || marker === TupleTag.Old) {
      if (tag === MessageTag.Insert) return this.fail();
      p = this.oldTuple.scan(b, p, end, base, tag, v);
      if (p < 0) return this.fail();
      oldMarker = marker;
      if (tag === MessageTag.Update) {
        if (p >= end) return this.fail();
        marker = b[p++]!;
      }
    } else {
      this.oldTuple.clear();
    }
    if (tag === MessageTag.Delete) {
      if (oldMarker === 0) return this.fail();
      this.newTuple.clear();
    } else {
      if (marker !== TupleTag.New) return this.fail();
      p = this.newTuple.scan(b, p, end, base, tag, v);
      if (p < 0) return this.fail();
    }
    if (p !== end) return this.fail();
    return this.done(tag, xid, relationOid, oldMarker);
  }

  /** Messages rare enough to be decoded into objects at once (which also checks them). */
  private loadRare(tag: number): number {
    const msg = decodeMessage(this.reader, this.message(), this.streaming);
    this.rare = msg;
    this.newTuple.clear();
    this.oldTuple.clear();
    const xid = 'xid' in msg && msg.xid !== undefined ? msg.xid : -1;
    return this.done(tag, xid, msg.tag === 'relation' ? msg.relationOid : 0, 0);
  }

  private done(tag: number, xid: number, relationOid: number, oldMarker: number): number {
    this.readInStream = this.streaming;
    if (tag === MessageTag.StreamStart) this.streaming = true;
    else if (tag === MessageTag.StreamStop) this.streaming = false;
    this.currentXid = xid;
    this.currentRelation = relationOid;
    this.currentOldMarker = oldMarker;
    this.currentTag = tag;
    return tag;
  }

  /**
   * The view's own checks are coarse (a wrong size, a bad byte somewhere):
   * the object decoder reads the message again to throw the exact error,
   * with the offset and field name it would report.
   */
  private fail(): never {
    decodeMessage(this.reader, this.message(), this.streaming);
    throw new PgoutputDecodeError(
      'invalid',
      'the lazy view refused a message the object decoder accepts; please report this with the message bytes',
      {
        tag: String.fromCharCode(this.buf[this.start]!),
        offset: 0,
        protoVersion: this.protoVersion,
      },
    );
  }

  private message(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  private expect(tag: number, field: string, message: string): void {
    if (this.currentTag !== tag) this.wrongMessage(field, message);
  }

  /** Offset of the flags byte of a Commit or Stream Commit, where their common fields start. */
  private commitFields(field: string): number {
    if (this.currentTag === MessageTag.Commit) return this.start + 1;
    if (this.currentTag === MessageTag.StreamCommit) return this.start + 5;
    return this.wrongMessage(field, 'Commit or Stream Commit');
  }

  private frameField(field: string): number {
    if (this.frameAt < 0 || this.currentTag === 0) {
      throw new PgoutputError(
        'invalid_argument',
        `${field} is a field of the XLogData header: reset the view with resetFrame`,
      );
    }
    return this.frameAt;
  }

  private wrongMessage(field: string, message: string): never {
    const on =
      this.currentTag === 0 ? 'no message' : `a '${String.fromCharCode(this.currentTag)}' message`;
    throw new PgoutputError(
      'invalid_argument',
      `${field} is a field of ${message}; the view is on ${on}: check tag first`,
    );
  }
}

function checkRange(buf: Uint8Array, offset: number, length: number, what: string): void {
  assertBytes(buf, what);
  if (!(offset >>> 0 === offset && length >>> 0 === length && offset + length <= buf.length)) {
    throw new PgoutputError(
      'invalid_argument',
      `${what}: offset ${String(offset)} and length ${String(length)} do not lie within the ${buf.length}-byte buffer`,
    );
  }
}
