import {
  type ChangeTuple,
  type RowChange,
  type SourceId,
  type SourceRelation,
  type SourceTransaction,
  WIRE_NULL,
  WIRE_UNCHANGED,
} from '@kuvasz/apply';
import {
  ARENA_NULL,
  ARENA_UNCHANGED,
  type ArenaBinaryDecoders,
  pgTimestampToIso,
  type RelationMessage,
  type Tuple,
} from '@kuvasz/pgoutput';
import type { Change, TransactionPart } from '@kuvasz/replication';
import { type BinaryMode, BinaryModeError } from './binary-mode.js';

/**
 * Relation messages are replaced (not mutated) when a relation changes, so a
 * WeakMap keyed by the message converts each one once.
 */
const relations = new WeakMap<RelationMessage, SourceRelation>();

function toRelation(rel: RelationMessage): SourceRelation {
  let out = relations.get(rel);
  if (!out) {
    out = {
      schema: rel.schema,
      table: rel.name,
      replicaIdentity: rel.replicaIdentity,
      columns: rel.columns.map((c) => ({
        name: c.name,
        typeOid: c.typeOid,
        typeModifier: c.typeMod,
        isKey: c.isKey,
      })),
    };
    relations.set(rel, out);
  }
  return out;
}

/**
 * Text-mode tuples are already apply tuples: strings, null, and the shared
 * unchanged-TOAST symbol. In binary mode, a decoded tuple's values are bytes:
 * they become text through the relation's decoders. An arena tuple
 * (pgoutput's `ArenaTuple`) is already an apply `WireTuple`: the same
 * fields, the same NULL and unchanged markers, and in binary mode the same
 * decoders.
 */
function tuple(t: Tuple, rel: RelationMessage, binary: BinaryMode | undefined): ChangeTuple {
  if (binary === undefined) return t as ChangeTuple;
  let out: ChangeTuple | undefined;
  let decoders: ArenaBinaryDecoders | undefined;
  for (let i = 0; i < t.length; i++) {
    const v = t[i];
    if (!(v instanceof Uint8Array)) continue;
    decoders ??= binary.decoders(rel);
    if (!decoders) {
      throw new BinaryModeError(
        `a row of ${rel.schema}.${rel.name} came in binary format, but a column type of it has no binary-to-text decoder (a column added since the source started in binary mode?); nothing of it was applied, and the source restarts in text mode`,
      );
    }
    out ??= (t as ChangeTuple).slice();
    out[i] = decoders[i]!(v, 0, v.length);
  }
  return out ?? (t as ChangeTuple);
}

const optTuple = (
  t: Tuple | undefined,
  rel: RelationMessage,
  binary: BinaryMode | undefined,
): ChangeTuple | undefined => (t === undefined ? undefined : tuple(t, rel, binary));

if (ARENA_NULL !== WIRE_NULL || ARENA_UNCHANGED !== WIRE_UNCHANGED)
  throw new Error('pgoutput arena tuples and apply wire tuples disagree on their markers');

function toChange(c: Change, binary: BinaryMode | undefined): RowChange {
  switch (c.kind) {
    case 'insert':
      // A wire insert's `new` is decoded only if read: pass its bytes on instead.
      return c.wire
        ? { op: 'insert', relation: toRelation(c.relation), wire: c.wire }
        : { op: 'insert', relation: toRelation(c.relation), new: tuple(c.new, c.relation, binary) };
    case 'update':
      // Likewise an update whose key did not change, and a delete by key.
      if (c.wire) return { op: 'update', relation: toRelation(c.relation), wire: c.wire };
      return {
        op: 'update',
        relation: toRelation(c.relation),
        new: tuple(c.new, c.relation, binary),
        key: optTuple(c.key, c.relation, binary),
        old: optTuple(c.old, c.relation, binary),
      };
    case 'delete':
      if (c.wire) return { op: 'delete', relation: toRelation(c.relation), wire: c.wire };
      return {
        op: 'delete',
        relation: toRelation(c.relation),
        key: optTuple(c.key, c.relation, binary),
        old: optTuple(c.old, c.relation, binary),
      };
    case 'truncate':
      return {
        op: 'truncate',
        relations: c.relations.map(toRelation),
        cascade: c.cascade,
        restartIdentity: c.restartIdentity,
      };
  }
}

/** One part of a source transaction as apply takes it; `binary` when the source is read in binary mode. */
export function toSourceTransaction(
  source: SourceId,
  part: TransactionPart,
  binary?: BinaryMode,
): SourceTransaction {
  return {
    source,
    xid: part.xid,
    commitLsn: part.commitLsn,
    endLsn: part.endLsn,
    commitTime: pgTimestampToIso(part.commitTime),
    changes: part.changes.map((c) => toChange(c, binary)),
    firstChangeIndex: part.firstChangeIndex,
    final: part.final,
  };
}
