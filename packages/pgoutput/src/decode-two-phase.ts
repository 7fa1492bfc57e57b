import type { BufferReader } from './buffer-reader.js';
import type {
  BeginPrepareMessage,
  CommitPreparedMessage,
  PrepareMessage,
  RollbackPreparedMessage,
  StreamPrepareMessage,
} from './messages.js';

/** Begin Prepare 'b': Int64 prepare LSN, Int64 end LSN, Int64 prepare time, Int32 xid, String GID. */
export function decodeBeginPrepare(r: BufferReader): BeginPrepareMessage {
  const prepareLsn = r.u64('prepare LSN');
  const endLsn = r.u64('end LSN');
  const prepareTime = r.i64('prepare time');
  const xid = r.u32('xid');
  const gid = r.cstring('GID');
  return { tag: 'begin_prepare', prepareLsn, endLsn, prepareTime, xid, gid };
}

/** Prepare 'P': Int8 flags, Int64 prepare LSN, Int64 end LSN, Int64 prepare time, Int32 xid, String GID. */
export function decodePrepare(r: BufferReader): PrepareMessage {
  const flags = r.u8('flags');
  const prepareLsn = r.u64('prepare LSN');
  const endLsn = r.u64('end LSN');
  const prepareTime = r.i64('prepare time');
  const xid = r.u32('xid');
  const gid = r.cstring('GID');
  return { tag: 'prepare', flags, prepareLsn, endLsn, prepareTime, xid, gid };
}

/** Commit Prepared 'K': Int8 flags, Int64 commit LSN, Int64 end LSN, Int64 commit time, Int32 xid, String GID. */
export function decodeCommitPrepared(r: BufferReader): CommitPreparedMessage {
  const flags = r.u8('flags');
  const commitLsn = r.u64('commit LSN');
  const endLsn = r.u64('end LSN');
  const commitTime = r.i64('commit time');
  const xid = r.u32('xid');
  const gid = r.cstring('GID');
  return { tag: 'commit_prepared', flags, commitLsn, endLsn, commitTime, xid, gid };
}

/**
 * Rollback Prepared 'r': Int8 flags, Int64 prepare end LSN, Int64 rollback
 * end LSN, Int64 prepare time, Int64 rollback time, Int32 xid, String GID.
 */
export function decodeRollbackPrepared(r: BufferReader): RollbackPreparedMessage {
  const flags = r.u8('flags');
  const prepareEndLsn = r.u64('prepare end LSN');
  const rollbackEndLsn = r.u64('rollback end LSN');
  const prepareTime = r.i64('prepare time');
  const rollbackTime = r.i64('rollback time');
  const xid = r.u32('xid');
  const gid = r.cstring('GID');
  return {
    tag: 'rollback_prepared',
    flags,
    prepareEndLsn,
    rollbackEndLsn,
    prepareTime,
    rollbackTime,
    xid,
    gid,
  };
}

/** Stream Prepare 'p': the same fields as Prepare. */
export function decodeStreamPrepare(r: BufferReader): StreamPrepareMessage {
  const flags = r.u8('flags');
  const prepareLsn = r.u64('prepare LSN');
  const endLsn = r.u64('end LSN');
  const prepareTime = r.i64('prepare time');
  const xid = r.u32('xid');
  const gid = r.cstring('GID');
  return { tag: 'stream_prepare', flags, prepareLsn, endLsn, prepareTime, xid, gid };
}
