import type { BufferReader } from './buffer-reader.js';
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
import type { PgoutputMessage } from './messages.js';
import { MessageTag } from './tags.js';

const EMPTY = new Uint8Array(0);

/**
 * Decodes one whole message with `r` (whose `protoVersion` is the stream's),
 * `streaming` telling whether it sits between Stream Start and Stream Stop
 * (changes then carry an xid prefix). Throws `PgoutputDecodeError`, with
 * offsets relative to `data`. The caller keeps the stream state: this
 * function neither reads nor changes anything but `r`.
 */
export function decodeMessage(
  r: BufferReader,
  data: Uint8Array,
  streaming: boolean,
): PgoutputMessage {
  r.reset(data);
  try {
    const tag = r.u8('message tag');
    r.tag = tag;
    const msg = dispatch(r, tag, streaming);
    r.done();
    return msg;
  } finally {
    // Drop the reference so a reader kept around does not pin the caller's buffer.
    r.reset(EMPTY);
  }
}

function dispatch(r: BufferReader, tag: number, streaming: boolean): PgoutputMessage {
  switch (tag) {
    case MessageTag.Insert:
      return decodeInsert(r, xidPrefix(r, streaming));
    case MessageTag.Update:
      return decodeUpdate(r, xidPrefix(r, streaming));
    case MessageTag.Delete:
      return decodeDelete(r, xidPrefix(r, streaming));
    case MessageTag.Begin:
      return decodeBegin(r);
    case MessageTag.Commit:
      return decodeCommit(r);
    case MessageTag.Relation:
      return decodeRelation(r, xidPrefix(r, streaming));
    case MessageTag.Type:
      return decodeType(r, xidPrefix(r, streaming));
    case MessageTag.Truncate:
      return decodeTruncate(r, xidPrefix(r, streaming));
    case MessageTag.Message:
      return decodeLogicalMessage(r, xidPrefix(r, streaming));
    case MessageTag.Origin:
      return decodeOrigin(r);
    case MessageTag.StreamStart:
      requireVersion(r, 2, 'Stream Start');
      return decodeStreamStart(r);
    case MessageTag.StreamStop:
      requireVersion(r, 2, 'Stream Stop');
      return decodeStreamStop();
    case MessageTag.StreamCommit:
      requireVersion(r, 2, 'Stream Commit');
      return decodeStreamCommit(r);
    case MessageTag.StreamAbort:
      requireVersion(r, 2, 'Stream Abort');
      return decodeStreamAbort(r);
    case MessageTag.BeginPrepare:
      requireVersion(r, 3, 'Begin Prepare');
      return decodeBeginPrepare(r);
    case MessageTag.Prepare:
      requireVersion(r, 3, 'Prepare');
      return decodePrepare(r);
    case MessageTag.CommitPrepared:
      requireVersion(r, 3, 'Commit Prepared');
      return decodeCommitPrepared(r);
    case MessageTag.RollbackPrepared:
      requireVersion(r, 3, 'Rollback Prepared');
      return decodeRollbackPrepared(r);
    case MessageTag.StreamPrepare:
      requireVersion(r, 3, 'Stream Prepare');
      return decodeStreamPrepare(r);
    default:
      r.tag = 0;
      return r.fail('unknown_tag', `unknown pgoutput message tag ${describeByte(tag)}`, 0);
  }
}

function xidPrefix(r: BufferReader, streaming: boolean): number | undefined {
  return streaming ? r.u32('streamed transaction xid') : undefined;
}

function requireVersion(r: BufferReader, min: number, what: string): void {
  if (r.protoVersion < min) {
    r.fail(
      'protocol_version',
      `${what} needs protocol version ${min}+; create the decoder with the proto_version the slot is read with`,
      0,
    );
  }
}
