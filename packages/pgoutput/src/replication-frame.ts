import { BufferReader } from './buffer-reader.js';
import { describeByte } from './decode-dml.js';
import { assertBytes, PgoutputError } from './errors.js';
import { MAX_LSN } from './lsn.js';
import type { ReplicationFrame, StandbyStatusUpdate } from './messages.js';
import { nowPgTimestamp, PG_TIMESTAMP_INFINITY, PG_TIMESTAMP_MINUS_INFINITY } from './pg-time.js';
import { FrameTag } from './tags.js';

/** 'w' + walStart + walEnd + serverClock. */
export const XLOGDATA_HEADER_BYTES = 25;
/** 'r' + write + flush + apply + clock + replyRequested. */
export const STANDBY_STATUS_UPDATE_BYTES = 34;

// Frames are parsed outside any decoder, so the version in errors is 0 ("framing").
const reader = new BufferReader(0);

/**
 * Parses one CopyData payload of a logical replication stream: XLogData
 * ('w', whose `data` is a view into `frame`: copy it, or decode it before
 * reusing the buffer) or a primary keepalive ('k').
 */
export function parseReplicationFrame(frame: Uint8Array): ReplicationFrame {
  assertBytes(frame, 'parseReplicationFrame');
  const r = reader;
  r.reset(frame);
  try {
    const tag = r.u8('frame tag');
    r.tag = tag;
    if (tag === FrameTag.XLogData) {
      const walStart = r.u64('WAL start');
      const walEnd = r.u64('WAL end');
      const serverClock = r.i64('server clock');
      return { tag: 'xlogdata', walStart, walEnd, serverClock, data: frame.subarray(r.pos) };
    }
    if (tag === FrameTag.PrimaryKeepalive) {
      const walEnd = r.u64('WAL end');
      const serverClock = r.i64('server clock');
      const at = r.pos;
      const reply = r.u8('reply requested flag');
      if (reply > 1) r.fail('invalid', `reply requested flag is ${reply}; expected 0 or 1`, at);
      r.done();
      return { tag: 'keepalive', walEnd, serverClock, replyRequested: reply === 1 };
    }
    r.tag = 0;
    return r.fail(
      'unknown_tag',
      `replication frame starts with ${describeByte(tag)}; expected 'w' (XLogData) or 'k' (keepalive)`,
      0,
    );
  } finally {
    r.reset(EMPTY);
  }
}

const EMPTY = new Uint8Array(0);

/**
 * The WAL start of an XLogData frame ('w', at least the 25-byte header),
 * without the frame object and the two other header fields that
 * `parseReplicationFrame` allocates: for a reader on the hot path, which
 * takes the payload as `frame.subarray(XLOGDATA_HEADER_BYTES)`. Undefined
 * for anything else (a keepalive, a short or unknown frame: parse those with
 * `parseReplicationFrame`, which also reports what is wrong).
 */
export function xlogDataStart(frame: Uint8Array): bigint | undefined {
  assertBytes(frame, 'xlogDataStart');
  if (frame.length < XLOGDATA_HEADER_BYTES || frame[0] !== FrameTag.XLogData) return undefined;
  const r = reader;
  r.reset(frame);
  r.pos = 1;
  const start = r.u64('WAL start');
  r.reset(EMPTY);
  return start;
}

function checkU64(v: bigint, what: string): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > MAX_LSN) {
    throw new PgoutputError(
      'invalid_lsn',
      `standby status update ${what} ${String(v)} is not an LSN; expected a bigint from 0 to 2^64-1 (use parseLsn for X/Y text)`,
    );
  }
  return v;
}

/**
 * Encodes a standby status update ('r', 34 bytes) to write back on the
 * replication stream. Report as flushed only what the consumer has durably
 * stored: the server may recycle WAL before `flushLsn`.
 */
export function encodeStandbyStatusUpdate(update: StandbyStatusUpdate): Uint8Array {
  const clock = update.clock ?? nowPgTimestamp();
  if (
    typeof clock !== 'bigint' ||
    clock < PG_TIMESTAMP_MINUS_INFINITY ||
    clock > PG_TIMESTAMP_INFINITY
  ) {
    throw new PgoutputError(
      'invalid_timestamp',
      `standby status update clock ${String(clock)} is not an int64 of microseconds since 2000-01-01; use nowPgTimestamp()`,
    );
  }
  const out = new Uint8Array(STANDBY_STATUS_UPDATE_BYTES);
  const view = new DataView(out.buffer);
  out[0] = FrameTag.StandbyStatusUpdate;
  view.setBigUint64(1, checkU64(update.writeLsn, 'writeLsn'));
  view.setBigUint64(9, checkU64(update.flushLsn, 'flushLsn'));
  view.setBigUint64(17, checkU64(update.applyLsn, 'applyLsn'));
  view.setBigInt64(25, clock);
  out[33] = update.replyRequested === true ? 1 : 0;
  return out;
}
