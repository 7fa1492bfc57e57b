import type { ColumnInfo, RelationInfo } from './catalog.js';
import type { BoundCopyRules } from './row-rules.js';
import { identList, literal } from './sql.js';
import type { TargetType } from './types.js';

/** Columns the streamer fills itself; never copied from a source column of the same name. */
export const SID_COLUMN = 'sid';
export const HISTORY_COLUMNS = ['kvsz_start', 'kvsz_end', 'kvsz_deleted'] as const;
const MANAGED = new Set<string>([SID_COLUMN, ...HISTORY_COLUMNS]);

/**
 * The specification's sentinels as instants, the same ones `@kuvasz/apply`
 * writes and looks for: a bare '9999-01-01' would be read in the
 * destination session's TimeZone and miss the engine's open versions.
 */
export const HISTORY_START = '1900-01-01 00:00:00+00';
export const HISTORY_OPEN_END = '9999-01-01 00:00:00+00';

export interface ColumnMapping {
  /** Columns present (and not generated) on both sides, in the target's order. */
  copied: string[];
  /** Target columns that get their default (absent from the source, generated, or generated on the source). */
  defaulted: string[];
  /** Source columns not copied. */
  dropped: string[];
  hasSid: boolean;
  /** A copied column is GENERATED ALWAYS AS IDENTITY in the target: INSERT needs OVERRIDING SYSTEM VALUE. */
  overridingSystemValue: boolean;
  /** Target columns whose types are compared as text by the history merge. */
  types: Map<string, string>;
  /** Target columns computed by the row rules (after `copied` in every COPY). */
  computed: string[];
  /** The table's row rules, bound to the source's columns. */
  rows: BoundCopyRules | undefined;
  /** Source columns the rules read (`rows.reads` by name), selected after `copied`. */
  reads: string[];
}

export type MappingProblem = { message: string };

/** Matches columns by name; a problem list when the target cannot receive this source. */
export function mapColumns(
  source: RelationInfo,
  target: RelationInfo,
  type: TargetType,
  rows?: BoundCopyRules,
): { mapping: ColumnMapping; problems: MappingProblem[] } {
  const problems: MappingProblem[] = [];
  const computed = rows?.computed ?? [];
  const computedSet = new Set(computed);
  const sourceByName = new Map<string, ColumnInfo>(source.columns.map((c) => [c.name, c]));
  const targetNames = new Set(target.columns.map((c) => c.name));
  const copied: string[] = [];
  const defaulted: string[] = [];
  let overriding = false;
  const types = new Map<string, string>();
  for (const col of target.columns) {
    types.set(col.name, col.type);
    if (MANAGED.has(col.name) || col.generated || computedSet.has(col.name)) continue;
    const src = sourceByName.get(col.name);
    if (!src || src.generated) {
      defaulted.push(col.name);
      continue;
    }
    copied.push(col.name);
    if (col.identity === 'a') overriding = true;
  }
  const dropped = source.columns
    .filter((c) => !copied.includes(c.name) && !(MANAGED.has(c.name) && targetNames.has(c.name)))
    .map((c) => c.name);
  for (const c of computed) {
    const t = target.columns.find((x) => x.name === c);
    if (!t || t.generated || MANAGED.has(c)) {
      problems.push({
        message: `the computed column ${c} (set) is not a column the target can receive; add it to the target`,
      });
    }
  }
  if (copied.length === 0 && computed.length === 0) {
    problems.push({
      message: `no column in common (by name) between source and target; the target needs at least one of: ${source.columns.map((c) => c.name).join(', ')}`,
    });
  }
  const hasSid = targetNames.has(SID_COLUMN);
  if (type === 'history') {
    const missing = HISTORY_COLUMNS.filter((c) => !targetNames.has(c));
    if (missing.length > 0) {
      problems.push({
        message: `a history target needs the columns ${HISTORY_COLUMNS.join(', ')}; add ${missing.join(', ')}`,
      });
    }
  }
  return {
    mapping: {
      copied,
      defaulted,
      dropped,
      hasSid,
      overridingSystemValue: overriding,
      types,
      computed,
      rows,
      reads: (rows?.reads ?? []).map((i) => source.columns[i]!.name),
    },
    problems,
  };
}

/**
 * The target columns a COPY writes and the source SELECT list that produces
 * them, constants included. `withHistory` adds the history constants (direct
 * loads of history targets; staging loads leave them to the merge).
 */
export function copyColumns(
  mapping: ColumnMapping,
  sid: string,
  withHistory: boolean,
): { targetColumns: string[]; selectList: string } {
  // With row rules the source rows carry the fields the rules read where the
  // computed values go; the row transform swaps them (see RowTransform).
  const targetColumns = [...mapping.copied, ...mapping.computed];
  const select = mapping.copied.length > 0 ? [identList(mapping.copied)] : [];
  if (mapping.reads.length > 0) select.push(identList(mapping.reads));
  if (mapping.hasSid) {
    targetColumns.push(SID_COLUMN);
    select.push(literal(sid));
  }
  if (withHistory) {
    targetColumns.push(...HISTORY_COLUMNS);
    select.push(literal(HISTORY_START), literal(HISTORY_OPEN_END), 'false');
  }
  return { targetColumns, selectList: select.join(', ') };
}
