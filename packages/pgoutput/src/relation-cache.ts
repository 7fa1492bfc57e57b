import { PgoutputRelationError } from './errors.js';
import type { RelationColumn, RelationMessage, Tuple } from './messages.js';
import type { TypeParser, TypeParsers } from './type-parsers.js';

/** The parser of each column of a relation, for one parser map. */
interface ColumnParsers {
  parsers: TypeParsers;
  byColumn: (TypeParser | undefined)[];
}

/**
 * Relation messages by relation OID, so that row changes can be read as
 * named columns. The server sends a Relation message before the first change
 * of a table in each session and again after the table's schema changes;
 * `set` replaces the older definition. Call `reset()` after a reconnect.
 */
export class RelationCache {
  private readonly byOid = new Map<number, RelationMessage>();
  // Looking parsers up by type OID for every value is slow (sparse integer
  // keys); each relation remembers its column parsers for the last map used.
  private readonly columnParsers = new WeakMap<RelationMessage, ColumnParsers>();

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
   * A tuple as `{ column: value }` in column order (a column named
   * `__proto__` is an own property too). NULL stays `null`, unchanged TOAST
   * stays `UNCHANGED_TOAST`, binary values stay bytes; a text value goes
   * through `parsers[typeOid]` when there is one and stays raw text otherwise.
   */
  toRecord(rel: RelationMessage, tuple: Tuple, parsers?: TypeParsers): Record<string, unknown> {
    const cols = rel.columns;
    if (tuple.length !== cols.length) throw mismatch(rel, tuple);
    const fns = parsers === undefined ? undefined : this.parsersFor(rel, parsers);
    // A plain object: rows of one relation share a hidden class in V8, which a
    // null-prototype (dictionary-mode) object would not.
    const out: Record<string, unknown> = {};
    for (let i = 0; i < cols.length; i++) {
      const col = cols[i]!;
      const v = tuple[i]!;
      put(
        out,
        col.name,
        typeof v === 'string' && fns !== undefined ? convert(rel, col, v, fns[i]) : v,
      );
    }
    return out;
  }

  /** Only the replica identity columns of a tuple (all columns with REPLICA IDENTITY FULL). */
  toKeyRecord(rel: RelationMessage, tuple: Tuple, parsers?: TypeParsers): Record<string, unknown> {
    const cols = rel.columns;
    if (tuple.length !== cols.length) throw mismatch(rel, tuple);
    const fns = parsers === undefined ? undefined : this.parsersFor(rel, parsers);
    const out: Record<string, unknown> = {};
    for (let i = 0; i < cols.length; i++) {
      const col = cols[i]!;
      if (!col.isKey) continue;
      const v = tuple[i]!;
      put(
        out,
        col.name,
        typeof v === 'string' && fns !== undefined ? convert(rel, col, v, fns[i]) : v,
      );
    }
    return out;
  }

  private parsersFor(rel: RelationMessage, parsers: TypeParsers): (TypeParser | undefined)[] {
    const known = this.columnParsers.get(rel);
    if (known !== undefined && known.parsers === parsers) return known.byColumn;
    const byColumn = rel.columns.map((c) => parsers[c.typeOid]);
    this.columnParsers.set(rel, { parsers, byColumn });
    return byColumn;
  }

  reset(): void {
    this.byOid.clear();
  }

  get size(): number {
    return this.byOid.size;
  }
}

function put(out: Record<string, unknown>, name: string, value: unknown): void {
  // Assigning to `__proto__` would set the prototype instead of a property.
  if (name === '__proto__') {
    Object.defineProperty(out, name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    out[name] = value;
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
  col: RelationColumn,
  value: string,
  parse: TypeParser | undefined,
): unknown {
  if (parse === undefined) return value;
  try {
    return parse(value);
  } catch (err: unknown) {
    // The value and the parser's own message (JSON.parse quotes its input)
    // stay out of the message: they are row data. The cause keeps them.
    throw new PgoutputRelationError(
      'invalid_value',
      `column ${col.name} of ${rel.schema}.${rel.name} (type OID ${col.typeOid}): the type parser threw; fix or remove parsers[${col.typeOid}] to keep the raw text (see cause)`,
      { relationOid: rel.relationOid, column: col.name },
      { cause: err },
    );
  }
}
