import {
  type ChangeTuple,
  type ChangeValue,
  type SourceId,
  type SourceRelation,
  UNCHANGED,
} from './change.js';

/**
 * Per-table row rules: which source rows a target keeps (`filter`) and which
 * target columns are computed from the source row (`computed`). The engine
 * owns the semantics (what an update moving out of the filter becomes, how
 * unchanged TOAST values are treated); the caller owns the language the
 * rules are written in (the streamer compiles CEL expressions into this).
 *
 * Rules are bound once per shape of the source relation (at its first change
 * and after every Relation message that changes it), so a caller can
 * type-check against the columns the stream actually carries.
 */
export interface RowRules {
  /**
   * Binds the rules to one shape of the source relation. Throwing (for
   * example: an expression reads a column the table no longer has) stops the
   * source at that change, like a rejected change.
   */
  bind(relation: SourceRelation, source: SourceId): BoundRowRules;
}

/** What a row is to the rules: a new row of an INSERT or an UPDATE. */
export type RowOp = 'insert' | 'update';

export interface BoundRowRules {
  /** Keeps the rows for which `test` is true; absent: every row is kept. */
  filter?: RowTest | undefined;
  /**
   * Target columns computed from the row, in this order. A name that is
   * also a source column replaces that column's value; a new name is a
   * column the target must have.
   */
  computed: ComputedColumn[];
}

export interface RowTest {
  /** Indexes (in the relation's columns) of the values `test` reads. */
  reads: number[];
  /**
   * Whether the row is kept. Never sees an unchanged TOAST value among
   * `reads` (the engine fills it from the old row, or stops the source).
   * Throwing stops the source (fail closed): the row is neither applied nor
   * skipped.
   */
  test(row: ChangeTuple, op: RowOp): boolean;
}

export interface ComputedColumn {
  name: string;
  /** Type OID of the values `value` returns (text format), e.g. 25 for text. */
  typeOid: number;
  /** Indexes of the values `value` reads: an unchanged TOAST value there leaves the column unchanged. */
  reads: number[];
  /** The column's value in PostgreSQL text format, or null. Throwing stops the source. */
  value(row: ChangeTuple, op: RowOp): string | null;
}

/** A relation with its computed columns, and how to extend its tuples. */
export interface AppliedRules {
  relation: SourceRelation;
  rules: BoundRowRules;
  /** Position of each computed column in the extended tuple. */
  slots: number[];
}

/** Extends `relation` with the computed columns (new names appended, known ones replaced). */
export function applyRules(relation: SourceRelation, rules: BoundRowRules): AppliedRules {
  const columns = relation.columns.slice();
  const slots: number[] = [];
  for (const c of rules.computed) {
    const at = columns.findIndex((s) => s.name === c.name);
    const col = { name: c.name, typeOid: c.typeOid, isKey: false };
    if (at >= 0) {
      if (columns[at]!.isKey) {
        throw new Error(
          `column ${c.name} of ${relation.schema}.${relation.table} is part of its replica identity and cannot be computed; compute another column`,
        );
      }
      columns[at] = col;
      slots.push(at);
    } else {
      slots.push(columns.length);
      columns.push(col);
    }
  }
  return { relation: { ...relation, columns }, rules, slots };
}

/**
 * The row extended with the computed values (`full`: computed from it; else
 * NULL, for a tuple that only carries the key). An unchanged TOAST input
 * leaves the computed value unchanged.
 */
export function extendRow(
  applied: AppliedRules,
  row: ChangeTuple,
  op: RowOp,
  full: boolean,
): ChangeTuple {
  const { rules, slots } = applied;
  if (rules.computed.length === 0) return row;
  const out: ChangeValue[] = row.slice();
  for (let i = 0; i < rules.computed.length; i++) {
    const c = rules.computed[i]!;
    out[slots[i]!] = !full ? null : readsUnchanged(row, c.reads) ? UNCHANGED : c.value(row, op);
  }
  return out;
}

export function readsUnchanged(row: ChangeTuple, reads: number[]): boolean {
  for (const i of reads) if (row[i] === UNCHANGED) return true;
  return false;
}
