import {
  MessageTag,
  type MessageView,
  type PgoutputMessage,
  type Tuple,
  TupleTag,
  type TupleView,
} from '../../src/index.js';

/** Every column through `value(i)`, which is what the object decoder gives. */
function tupleOf(t: TupleView): Tuple {
  const out: Tuple = [];
  for (let i = 0; i < t.count; i++) out.push(t.value(i));
  return out;
}

/**
 * The view's current message, read back field by field into the object the
 * decoder returns (the view's own accessors only, never `toMessage()`,
 * except for the messages the view hands to the decoder by design). Tuples
 * are read old before new: the order in which the decoder would meet a bad
 * UTF-8 value.
 */
export function viewAsMessage(v: MessageView): PgoutputMessage {
  const xid = v.xid === -1 ? undefined : v.xid;
  switch (v.tag) {
    case MessageTag.Insert:
      return { tag: 'insert', xid, relationOid: v.relationOid, new: tupleOf(v.newTuple) };
    case MessageTag.Update: {
      const key = v.oldMarker === TupleTag.Key ? tupleOf(v.oldTuple) : undefined;
      const old = v.oldMarker === TupleTag.Old ? tupleOf(v.oldTuple) : undefined;
      return { tag: 'update', xid, relationOid: v.relationOid, key, old, new: tupleOf(v.newTuple) };
    }
    case MessageTag.Delete: {
      const key = v.oldMarker === TupleTag.Key ? tupleOf(v.oldTuple) : undefined;
      const old = v.oldMarker === TupleTag.Old ? tupleOf(v.oldTuple) : undefined;
      return { tag: 'delete', xid, relationOid: v.relationOid, key, old };
    }
    case MessageTag.Begin:
      return { tag: 'begin', finalLsn: v.finalLsn, commitTime: v.commitTime, xid: v.xid };
    case MessageTag.Commit:
      return {
        tag: 'commit',
        flags: v.flags,
        commitLsn: v.commitLsn,
        endLsn: v.endLsn,
        commitTime: v.commitTime,
      };
    case MessageTag.StreamStart:
      return { tag: 'stream_start', xid: v.xid, firstSegment: v.firstSegment };
    case MessageTag.StreamStop:
      return { tag: 'stream_stop' };
    case MessageTag.StreamCommit:
      return {
        tag: 'stream_commit',
        xid: v.xid,
        flags: v.flags,
        commitLsn: v.commitLsn,
        endLsn: v.endLsn,
        commitTime: v.commitTime,
      };
    case MessageTag.StreamAbort:
      return {
        tag: 'stream_abort',
        xid: v.xid,
        subXid: v.subXid,
        abortLsn: v.abortLsn,
        abortTime: v.abortTime,
      };
    default:
      return v.toMessage();
  }
}
