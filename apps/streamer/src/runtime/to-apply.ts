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
  pgTimestampToIso,
  type RelationMessage,
  type Tuple,
} from '@kuvasz/pgoutput';
import type { Change, TransactionPart } from '@kuvasz/replication';

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
 * unchanged-TOAST symbol. Binary mode is never used by the streamer. An
 * arena tuple (pgoutput's `ArenaTuple`) is already an apply `WireTuple`:
 * the same fields, the same NULL and unchanged markers.
 */
const tuple = (t: Tuple): ChangeTuple => t as ChangeTuple;
const optTuple = (t: Tuple | undefined): ChangeTuple | undefined =>
  t === undefined ? undefined : (t as ChangeTuple);

if (ARENA_NULL !== WIRE_NULL || ARENA_UNCHANGED !== WIRE_UNCHANGED)
  throw new Error('pgoutput arena tuples and apply wire tuples disagree on their markers');

function toChange(c: Change): RowChange {
  switch (c.kind) {
    case 'insert':
      // A wire insert's `new` is decoded only if read: pass its bytes on instead.
      return c.wire
        ? { op: 'insert', relation: toRelation(c.relation), wire: c.wire }
        : { op: 'insert', relation: toRelation(c.relation), new: tuple(c.new) };
    case 'update':
      // Likewise an update whose key did not change, and a delete by key.
      if (c.wire) return { op: 'update', relation: toRelation(c.relation), wire: c.wire };
      return {
        op: 'update',
        relation: toRelation(c.relation),
        new: tuple(c.new),
        key: optTuple(c.key),
        old: optTuple(c.old),
      };
    case 'delete':
      if (c.wire) return { op: 'delete', relation: toRelation(c.relation), wire: c.wire };
      return {
        op: 'delete',
        relation: toRelation(c.relation),
        key: optTuple(c.key),
        old: optTuple(c.old),
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

export function toSourceTransaction(source: SourceId, part: TransactionPart): SourceTransaction {
  return {
    source,
    xid: part.xid,
    commitLsn: part.commitLsn,
    endLsn: part.endLsn,
    commitTime: pgTimestampToIso(part.commitTime),
    changes: part.changes.map(toChange),
    firstChangeIndex: part.firstChangeIndex,
    final: part.final,
  };
}
