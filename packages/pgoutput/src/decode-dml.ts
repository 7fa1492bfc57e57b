import type { BufferReader } from './buffer-reader.js';
import { readTuple } from './decode-tuple.js';
import type {
  DeleteMessage,
  InsertMessage,
  TruncateMessage,
  Tuple,
  UpdateMessage,
} from './messages.js';
import { TupleTag } from './tags.js';

function expectNew(r: BufferReader): void {
  const at = r.pos;
  const b = r.u8('tuple marker');
  if (b !== TupleTag.New) {
    r.fail('invalid', `expected the new tuple marker 'N', got ${describeByte(b)}`, at);
  }
}

export function describeByte(b: number): string {
  return b >= 0x20 && b < 0x7f
    ? `'${String.fromCharCode(b)}'`
    : `0x${b.toString(16).padStart(2, '0')}`;
}

/** Insert 'I': [xid] Int32 relation OID, 'N', TupleData. */
export function decodeInsert(r: BufferReader, xid: number | undefined): InsertMessage {
  const relationOid = r.u32('relation OID');
  expectNew(r);
  return { tag: 'insert', xid, relationOid, new: readTuple(r) };
}

/** Update 'U': [xid] Int32 relation OID, optional 'K' or 'O' TupleData, 'N' TupleData. */
export function decodeUpdate(r: BufferReader, xid: number | undefined): UpdateMessage {
  const relationOid = r.u32('relation OID');
  const at = r.pos;
  const marker = r.u8('tuple marker');
  let key: Tuple | undefined;
  let old: Tuple | undefined;
  if (marker === TupleTag.Key) {
    key = readTuple(r);
    expectNew(r);
  } else if (marker === TupleTag.Old) {
    old = readTuple(r);
    expectNew(r);
  } else if (marker !== TupleTag.New) {
    r.fail('invalid', `expected tuple marker 'K', 'O' or 'N', got ${describeByte(marker)}`, at);
  }
  return { tag: 'update', xid, relationOid, key, old, new: readTuple(r) };
}

/** Delete 'D': [xid] Int32 relation OID, 'K' or 'O', TupleData. */
export function decodeDelete(r: BufferReader, xid: number | undefined): DeleteMessage {
  const relationOid = r.u32('relation OID');
  const at = r.pos;
  const marker = r.u8('tuple marker');
  let key: Tuple | undefined;
  let old: Tuple | undefined;
  if (marker === TupleTag.Key) key = readTuple(r);
  else if (marker === TupleTag.Old) old = readTuple(r);
  else r.fail('invalid', `expected tuple marker 'K' or 'O', got ${describeByte(marker)}`, at);
  return { tag: 'delete', xid, relationOid, key, old };
}

const TRUNCATE_CASCADE = 1;
const TRUNCATE_RESTART_IDENTITY = 2;

/** Truncate 'T': [xid] Int32 relation count, Int8 options, Int32 OID per relation. */
export function decodeTruncate(r: BufferReader, xid: number | undefined): TruncateMessage {
  const count = r.u32('truncated relation count');
  const options = r.u8('truncate options');
  if (count * 4 > r.end - r.pos) r.need(count * 4, `${count} relation OIDs`);
  const relationOids: number[] = [];
  for (let i = 0; i < count; i++) relationOids.push(r.u32('relation OID'));
  return {
    tag: 'truncate',
    xid,
    cascade: (options & TRUNCATE_CASCADE) !== 0,
    restartIdentity: (options & TRUNCATE_RESTART_IDENTITY) !== 0,
    relationOids,
  };
}
