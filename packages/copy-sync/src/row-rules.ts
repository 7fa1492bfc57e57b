/**
 * Per-row rules of a copy: which source rows are loaded and which target
 * columns are computed. The caller owns the expression language; copy-sync
 * only reads the fields the rules need out of the COPY text rows and writes
 * the computed values back into them.
 */
export interface CopyRowRules {
  /**
   * Binds the rules to the source table's columns, as its catalog lists them
   * (generated columns included). Throwing (an expression that does not fit
   * the columns) fails the table with that message.
   */
  bind(columns: readonly { name: string; typeOid: number }[]): BoundCopyRules;
}

export interface BoundCopyRules {
  /** Indexes (in the bound columns) of the values `row` reads. */
  reads: number[];
  /**
   * Target columns computed for every row, in `row`'s order. A name that is
   * also a source column replaces it.
   */
  computed: string[];
  /**
   * A condition on the source table pushed into the COPY's query. It may
   * only leave out rows that `row` would leave out (a pre-filter: `row`
   * still decides for the rows it lets through).
   */
  where?: string | undefined;
  /**
   * The computed values of one row (text format, `computed`'s order), or
   * null to leave the row out. `get(i)` returns source column `i` (one of
   * `reads`). Throwing stops the copy of the table with that message.
   */
  row(get: (index: number) => string | null): (string | null)[] | null;
}
