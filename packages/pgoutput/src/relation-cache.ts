import { PgoutputRelationError } from './errors.js';
import type { RelationMessage, Tuple, TupleValue } from './messages.js';
import type { TypeParsers } from './type-parsers.js';

/**
 * Relation messages by relation OID, so that row changes can be read as
 * named columns. The server sends a Relation message before the first change
 * of a table in each session and again after the table's schema changes;
 * `set` replaces the older definition. Call `reset()` after a reconnect.
 */
export class RelationCache {
  private readonly byOid = new Map<number, RelationMessage>();

  set(rel: RelationMessage): void {
    this.byOid.set(rel.relationOid, rel);
  }

  get(oid: number): RelationMessage | undefined {
    return this.byOid.get(oid);
  }

  has(oid: number): boolean {
    return this.byOid.has(oid);
  }

  /** The relation, or a `PgoutputRelationError` ('unknown_relation') naming the OID. */
  require(oid: number): RelationMessage {
    const rel = this.byOid.get(oid);
    if (rel === undefined) {
      throw new PgoutputRelationError(
        'unknown_relation',
        `relation OID ${oid} has not been described by a Relation message; read the stream from a transaction boundary and feed every Relation message to the cache (the server resends them after a reconnect)`,
        { relationOid: oid },
      );
    }
    return rel;
  }

  /**
   * A tuple as `{ column: value }` (a null-prototype object, so a column
   * named `__proto__` is an ordinary key). NULL stays `null`, unchanged TOAST
   * stays `UNCHANGED_TOAST`, binary values stay bytes; a text value goes
   * through `parsers[typeOid]` when there is one and stays raw text otherwise.
   */
  toRecord(rel: RelationMessage, tuple: Tuple, parsers?: TypeParsers): Record<string, unknown> {
    const cols = rel.columns;
    if (tuple.length !== cols.length) throw mismatch(rel, tuple);
    const out: Record<string, unknown> = Object.create(null);
    for (let i = 0; i < cols.length; i++) {
      const col = cols[i]!;
      out[col.name] = convert(rel, col.name, col.typeOid, tuple[i]!, parsers);
    }
    return out;
  }

  /** Only the replica identity columns of a tuple (all columns with REPLICA IDENTITY FULL). */
  toKeyRecord(rel: RelationMessage, tuple: Tuple, parsers?: TypeParsers): Record<string, unknown> {
    const cols = rel.columns;
    if (tuple.length !== cols.length) throw mismatch(rel, tuple);
    const out: Record<string, unknown> = Object.create(null);
    for (let i = 0; i < cols.length; i++) {
      const col = cols[i]!;
      if (col.isKey) out[col.name] = convert(rel, col.name, col.typeOid, tuple[i]!, parsers);
    }
    return out;
  }

  reset(): void {
    this.byOid.clear();
  }

  get size(): number {
    return this.byOid.size;
  }
}

function mismatch(rel: RelationMessage, tuple: Tuple): PgoutputRelationError {
  return new PgoutputRelationError(
    'tuple_mismatch',
    `tuple has ${tuple.length} columns but relation ${rel.schema}.${rel.name} (OID ${rel.relationOid}) has ${rel.columns.length}; the cached Relation message is stale or belongs to another stream`,
    { relationOid: rel.relationOid },
  );
}

function convert(
  rel: RelationMessage,
  column: string,
  typeOid: number,
  value: TupleValue,
  parsers: TypeParsers | undefined,
): unknown {
  if (typeof value !== 'string' || parsers === undefined) return value;
  const parse = parsers[typeOid];
  if (parse === undefined) return value;
  try {
    return parse(value);
  } catch (err: unknown) {
    // The value and the parser's own message (JSON.parse quotes its input)
    // stay out of the message: they are row data. The cause keeps them.
    throw new PgoutputRelationError(
      'invalid_value',
      `column ${column} of ${rel.schema}.${rel.name} (type OID ${typeOid}): the type parser threw; fix or remove parsers[${typeOid}] to keep the raw text (see cause)`,
      { relationOid: rel.relationOid, column },
      { cause: err },
    );
  }
}
