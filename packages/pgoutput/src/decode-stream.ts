import type { BufferReader } from './buffer-reader.js';
import type {
  StreamAbortMessage,
  StreamCommitMessage,
  StreamStartMessage,
  StreamStopMessage,
} from './messages.js';

/** Stream Start 'S': Int32 xid, Int8 1 on the transaction's first segment. */
export function decodeStreamStart(r: BufferReader): StreamStartMessage {
  const xid = r.u32('xid');
  const at = r.pos;
  const first = r.u8('first segment flag');
  if (first > 1) r.fail('invalid', `first segment flag is ${first}; expected 0 or 1`, at);
  return { tag: 'stream_start', xid, firstSegment: first === 1 };
}

/** Stream Stop 'E': no fields. */
export function decodeStreamStop(): StreamStopMessage {
  return { tag: 'stream_stop' };
}

/** Stream Commit 'c': Int32 xid, Int8 flags, Int64 commit LSN, Int64 end LSN, Int64 commit time. */
export function decodeStreamCommit(r: BufferReader): StreamCommitMessage {
  const xid = r.u32('xid');
  const flags = r.u8('flags');
  const commitLsn = r.u64('commit LSN');
  const endLsn = r.u64('end LSN');
  const commitTime = r.i64('commit time');
  return { tag: 'stream_commit', xid, flags, commitLsn, endLsn, commitTime };
}

/**
 * Stream Abort 'A': Int32 xid, Int32 subtransaction xid, and with protocol
 * v4 and `streaming = parallel` Int64 abort LSN, Int64 abort time. Whether
 * the last two are sent depends on a subscription option the decoder does not
 * see, so they are read when the bytes are there.
 */
export function decodeStreamAbort(r: BufferReader): StreamAbortMessage {
  const xid = r.u32('xid');
  const subXid = r.u32('subtransaction xid');
  let abortLsn: bigint | undefined;
  let abortTime: bigint | undefined;
  if (r.protoVersion >= 4 && r.pos < r.end) {
    abortLsn = r.u64('abort LSN');
    abortTime = r.i64('abort time');
  }
  return { tag: 'stream_abort', xid, subXid, abortLsn, abortTime };
}
