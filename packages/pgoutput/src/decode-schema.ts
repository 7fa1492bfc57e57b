import type { BufferReader } from './buffer-reader.js';
import { describeByte } from './decode-dml.js';
import type { RelationColumn, RelationMessage, ReplicaIdentity, TypeMessage } from './messages.js';

const COLUMN_IS_KEY = 1;
/** Flags (1) + empty name's NUL (1) + type OID (4) + type modifier (4). */
const MIN_COLUMN_BYTES = 10;

function replicaIdentity(r: BufferReader): ReplicaIdentity {
  const at = r.pos;
  const b = r.u8('replica identity');
  switch (b) {
    case 0x64: // 'd'
      return 'default';
    case 0x6e: // 'n'
      return 'nothing';
    case 0x66: // 'f'
      return 'full';
    case 0x69: // 'i'
      return 'index';
    default:
      return r.fail(
        'invalid',
        `replica identity is ${describeByte(b)}; expected 'd', 'n', 'f' or 'i'`,
        at,
      );
  }
}

/**
 * Relation 'R': [xid] Int32 OID, String schema, String name, Int8 replica
 * identity, Int16 column count, then per column Int8 flags, String name,
 * Int32 type OID, Int32 type modifier.
 */
export function decodeRelation(r: BufferReader, xid: number | undefined): RelationMessage {
  const relationOid = r.u32('relation OID');
  const schema = r.cstring('schema name');
  const name = r.cstring('relation name');
  const identity = replicaIdentity(r);
  const n = r.u16('column count');
  if (n * MIN_COLUMN_BYTES > r.end - r.pos) r.need(n * MIN_COLUMN_BYTES, `${n} column definitions`);
  const columns: RelationColumn[] = [];
  for (let i = 0; i < n; i++) {
    const flags = r.u8('column flags');
    const colName = r.cstring('column name');
    const typeOid = r.u32('column type OID');
    const typeMod = r.i32('column type modifier');
    columns.push({ flags, isKey: (flags & COLUMN_IS_KEY) !== 0, name: colName, typeOid, typeMod });
  }
  return {
    tag: 'relation',
    xid,
    relationOid,
    schema,
    name,
    replicaIdentity: identity,
    columns,
  };
}

/** Type 'Y': [xid] Int32 type OID, String schema, String name. */
export function decodeType(r: BufferReader, xid: number | undefined): TypeMessage {
  const typeOid = r.u32('type OID');
  const schema = r.cstring('type schema');
  const name = r.cstring('type name');
  return { tag: 'type', xid, typeOid, schema, name };
}
