import type { ColumnInfo, RelationInfo } from './catalog.js';
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
}

export type MappingProblem = { message: string };

/** Matches columns by name; a problem list when the target cannot receive this source. */
export function mapColumns(
  source: RelationInfo,
  target: RelationInfo,
  type: TargetType,
): { mapping: ColumnMapping; problems: MappingProblem[] } {
  const problems: MappingProblem[] = [];
  const sourceByName = new Map<string, ColumnInfo>(source.columns.map((c) => [c.name, c]));
  const targetNames = new Set(target.columns.map((c) => c.name));
  const copied: string[] = [];
  const defaulted: string[] = [];
  let overriding = false;
  const types = new Map<string, string>();
  for (const col of target.columns) {
    types.set(col.name, col.type);
    if (MANAGED.has(col.name) || col.generated) continue;
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
  if (copied.length === 0) {
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
    mapping: { copied, defaulted, dropped, hasSid, overridingSystemValue: overriding, types },
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
  const targetColumns = [...mapping.copied];
  const select = [identList(mapping.copied)];
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
