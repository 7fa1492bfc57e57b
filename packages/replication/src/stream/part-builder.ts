import {
  type ArenaTuple,
  arenaValues,
  type DeleteMessage,
  type InsertMessage,
  type LogicalMessage,
  type RelationMessage,
  type TruncateMessage,
  type Tuple,
  type UpdateMessage,
} from '@kuvasz/pgoutput';
import type {
  Change,
  DeleteChange,
  InsertChange,
  TableRef,
  TransactionPart,
  UpdateChange,
} from '../types.js';

export interface PartLimits {
  /** Changes per part (default 5,000). */
  maxChanges: number;
  /** Approximate bytes per part, counted on the wire (default 4 MiB). */
  maxBytes: number;
}

export const DEFAULT_PART_LIMITS: PartLimits = { maxChanges: 5000, maxBytes: 4 * 1024 * 1024 };

export interface PartHeader {
  xid: number;
  commitLsn: bigint;
  endLsn: bigint;
  commitTime: bigint;
  origin: string | undefined;
}

/** Collects changes and messages into size-bounded parts of one transaction. */
export class PartBuilder {
  private changes: Change[] = [];
  private messages: LogicalMessage[] = [];
  private bytes = 0;
  private nextIndex = 0;
  /** Parts handed out so far. */
  emitted = 0;

  constructor(private readonly limits: PartLimits) {}

  get isEmpty(): boolean {
    return this.changes.length === 0 && this.messages.length === 0;
  }

  get isFull(): boolean {
    return this.changes.length >= this.limits.maxChanges || this.bytes >= this.limits.maxBytes;
  }

  addChange(change: Change, bytes: number): void {
    this.changes.push(change);
    this.bytes += bytes;
  }

  addMessage(message: LogicalMessage, bytes: number): void {
    this.messages.push(message);
    this.bytes += bytes;
  }

  take(header: PartHeader, final: boolean): TransactionPart {
    // Fields spelled out: an object spread per transaction showed in CPU profiles.
    const part: TransactionPart = {
      xid: header.xid,
      commitLsn: header.commitLsn,
      endLsn: header.endLsn,
      commitTime: header.commitTime,
      origin: header.origin,
      firstChangeIndex: this.nextIndex,
      final,
      changes: this.changes,
      messages: this.messages,
    };
    this.nextIndex += this.changes.length;
    this.changes = [];
    this.messages = [];
    this.bytes = 0;
    this.emitted++;
    return part;
  }
}

export type DmlMessage = InsertMessage | UpdateMessage | DeleteMessage | TruncateMessage;

/**
 * A row change kept as bytes (`wireInserts`, `wireRows`): its tuple is
 * decoded on first read. Classes, so that one is a small record; the
 * decoded values live behind getters on their prototypes.
 */
abstract class WireChange {
  private values: Tuple | undefined = undefined;

  constructor(
    readonly relation: RelationMessage,
    readonly wire: ArenaTuple,
  ) {}

  protected decoded(): Tuple {
    if (this.values === undefined) this.values = arenaValues(this.wire);
    return this.values;
  }
}

/** An insert kept as bytes: `new` is decoded on first read. */
export class WireInsertChange extends WireChange implements InsertChange {
  readonly kind = 'insert' as const;

  get new(): Tuple {
    return this.decoded();
  }
}

/** An update kept as bytes (its key did not change): `new` is decoded on first read. */
export class WireUpdateChange extends WireChange implements UpdateChange {
  readonly kind = 'update' as const;
  readonly key = undefined;
  readonly old = undefined;

  get new(): Tuple {
    return this.decoded();
  }
}

/** A delete by key kept as bytes: `key` is decoded on first read. */
export class WireDeleteChange extends WireChange implements DeleteChange {
  readonly kind = 'delete' as const;
  readonly old = undefined;

  get key(): Tuple {
    return this.decoded();
  }
}

/** A decoded row change with its (mapped) relations. */
export function toChange(msg: DmlMessage, rels: RelationMessage[]): Change {
  const relation = rels[0] as RelationMessage;
  switch (msg.tag) {
    case 'insert':
      return { kind: 'insert', relation, new: msg.new };
    case 'update':
      return { kind: 'update', relation, new: msg.new, key: msg.key, old: msg.old };
    case 'delete':
      return { kind: 'delete', relation, key: msg.key, old: msg.old };
    case 'truncate':
      return {
        kind: 'truncate',
        relations: rels,
        cascade: msg.cascade,
        restartIdentity: msg.restartIdentity,
      };
  }
}

export function relationOids(msg: DmlMessage): number[] {
  return msg.tag === 'truncate' ? msg.relationOids : [msg.relationOid];
}

/**
 * Reports changes of aliased relations (PostgreSQL 12 partitions,
 * partitions_regex tables) under the configured table. One mapped object per
 * relation version.
 */
export class RelationMapping {
  private readonly memo = new WeakMap<RelationMessage, RelationMessage>();

  constructor(private readonly map?: (relation: TableRef) => TableRef | undefined) {}

  apply(rel: RelationMessage): RelationMessage {
    if (!this.map) return rel;
    let mapped = this.memo.get(rel);
    if (!mapped) {
      const target = this.map({ schema: rel.schema, table: rel.name });
      mapped =
        target && (target.schema !== rel.schema || target.table !== rel.name)
          ? { ...rel, schema: target.schema, name: target.table }
          : rel;
      this.memo.set(rel, mapped);
    }
    return mapped;
  }
}
