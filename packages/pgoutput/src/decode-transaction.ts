import type { BufferReader } from './buffer-reader.js';
import type { BeginMessage, CommitMessage, LogicalMessage, OriginMessage } from './messages.js';

/** Begin 'B': Int64 final LSN, Int64 commit time, Int32 xid. */
export function decodeBegin(r: BufferReader): BeginMessage {
  const finalLsn = r.u64('final LSN');
  const commitTime = r.i64('commit time');
  const xid = r.u32('xid');
  return { tag: 'begin', finalLsn, commitTime, xid };
}

/** Commit 'C': Int8 flags, Int64 commit LSN, Int64 end LSN, Int64 commit time. */
export function decodeCommit(r: BufferReader): CommitMessage {
  const flags = r.u8('flags');
  const commitLsn = r.u64('commit LSN');
  const endLsn = r.u64('end LSN');
  const commitTime = r.i64('commit time');
  return { tag: 'commit', flags, commitLsn, endLsn, commitTime };
}

/** Origin 'O': Int64 commit LSN on the origin, String origin name. */
export function decodeOrigin(r: BufferReader): OriginMessage {
  const originLsn = r.u64('origin LSN');
  const name = r.cstring('origin name');
  return { tag: 'origin', originLsn, name };
}

const MESSAGE_TRANSACTIONAL = 1;

/** Message 'M': [xid] Int8 flags, Int64 LSN, String prefix, Int32 length, content bytes. */
export function decodeLogicalMessage(r: BufferReader, xid: number | undefined): LogicalMessage {
  const flags = r.u8('flags');
  const lsn = r.u64('message LSN');
  const prefix = r.cstring('message prefix');
  const content = r.bytes(r.length('message content length'));
  return {
    tag: 'message',
    xid,
    transactional: (flags & MESSAGE_TRANSACTIONAL) !== 0,
    lsn,
    prefix,
    content,
  };
}
