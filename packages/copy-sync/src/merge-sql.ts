import { HISTORY_OPEN_END, SID_COLUMN } from './column-mapping.js';
import { ident, identList, literal } from './sql.js';

/**
 * SQL text for loading and merging. Pure functions over already quoted
 * qualified names (`"s"."t"`) and raw column names (quoted here).
 */

export function copyOutSql(selectList: string, source: string, where: string): string {
  const filter = where ? ` WHERE ${where}` : '';
  return `COPY (SELECT ${selectList} FROM ${source}${filter}) TO STDOUT`;
}

export function copyInSql(target: string, columns: readonly string[]): string {
  return `COPY ${target} (${identList(columns)}) FROM STDIN`;
}

/** A staging table with the target's column types (domains, enums and typmods included), no constraints. */
export function createStagingSql(
  staging: string,
  target: string,
  columns: readonly string[],
  kind: 'unlogged' | 'temp',
): string {
  const head =
    kind === 'temp'
      ? `CREATE TEMP TABLE ${staging} ON COMMIT DROP AS`
      : `CREATE UNLOGGED TABLE ${staging} AS`;
  return `${head} SELECT ${identList(columns)} FROM ${target} WITH NO DATA`;
}

/** INSERT of the staging rows into the target, updating the rows whose key exists. */
export function upsertSql(opts: {
  target: string;
  staging: string;
  columns: readonly string[];
  key: readonly string[];
  overridingSystemValue: boolean;
}): string {
  const cols = identList(opts.columns);
  const over = opts.overridingSystemValue ? ' OVERRIDING SYSTEM VALUE' : '';
  const rest = opts.columns.filter((c) => !opts.key.includes(c));
  const action =
    rest.length === 0
      ? 'DO NOTHING'
      : `DO UPDATE SET ${rest.map((c) => `${ident(c)} = EXCLUDED.${ident(c)}`).join(', ')}`;
  return `INSERT INTO ${opts.target} (${cols})${over} SELECT ${cols} FROM ${opts.staging} ON CONFLICT (${identList(opts.key)}) ${action}`;
}

/** Removes the rows of one source (every row when the target has no sid column). */
export function deleteSourceRowsSql(target: string, sid: string | undefined): string {
  return sid === undefined
    ? `TRUNCATE ${target}`
    : `DELETE FROM ${target} WHERE ${ident(SID_COLUMN)} = ${literal(sid)}`;
}

/** Plain INSERT of every staging row (clone replacement after the delete). */
export function insertAllSql(opts: {
  target: string;
  staging: string;
  columns: readonly string[];
  overridingSystemValue: boolean;
}): string {
  const cols = identList(opts.columns);
  const over = opts.overridingSystemValue ? ' OVERRIDING SYSTEM VALUE' : '';
  return `INSERT INTO ${opts.target} (${cols})${over} SELECT ${cols} FROM ${opts.staging}`;
}

export interface HistoryMergeInput {
  target: string;
  staging: string;
  /** Copied columns (the staging table holds these, plus sid when `sid` is set). */
  columns: readonly string[];
  /** Business key columns (without sid and kvsz_*). */
  key: readonly string[];
  /** The source's sid when the target has a sid column. */
  sid: string | undefined;
  /** ISO timestamp of the sync: closes and opens versions. */
  time: string;
  overridingSystemValue: boolean;
}

function keyMatch(key: readonly string[], a: string, b: string): string {
  return key.map((k) => `${a}.${ident(k)} = ${b}.${ident(k)}`).join(' AND ');
}

/**
 * History re-sync, two statements run in this order in one transaction:
 * 1. close the open version of every key of this source that vanished
 *    (`kvsz_deleted = true`) or whose copied values differ;
 * 2. open a version for every staged key without an open version (new keys,
 *    and the ones just closed).
 * Values are compared as text so types without an equality operator (json,
 * xml, point, ...) work; both sides have the target's types, so equal values
 * print alike.
 */
export function historyMergeSql(m: HistoryMergeInput): [closeSql: string, openSql: string] {
  const sidFilter = m.sid === undefined ? '' : `t.${ident(SID_COLUMN)} = ${literal(m.sid)} AND `;
  const openFilter = `${sidFilter}t."kvsz_end" = ${literal(HISTORY_OPEN_END)}`;
  const values = m.columns.filter((c) => !m.key.includes(c));
  const same = values
    .map((c) => `s.${ident(c)}::text IS NOT DISTINCT FROM t.${ident(c)}::text`)
    .join(' AND ');
  const time = literal(m.time);
  const closeSql =
    `UPDATE ${m.target} t SET "kvsz_end" = ${time}, ` +
    `"kvsz_deleted" = NOT EXISTS (SELECT 1 FROM ${m.staging} s WHERE ${keyMatch(m.key, 's', 't')}) ` +
    `WHERE ${openFilter} AND NOT EXISTS (SELECT 1 FROM ${m.staging} s WHERE ${keyMatch(m.key, 's', 't')}${same ? ` AND ${same}` : ''})`;
  const insertCols = [...m.columns, ...(m.sid === undefined ? [] : [SID_COLUMN])];
  const over = m.overridingSystemValue ? ' OVERRIDING SYSTEM VALUE' : '';
  const openSql =
    `INSERT INTO ${m.target} (${identList(insertCols)}, "kvsz_start", "kvsz_end", "kvsz_deleted")${over} ` +
    `SELECT ${identList(insertCols, 's')}, ${time}, ${literal(HISTORY_OPEN_END)}, false FROM ${m.staging} s ` +
    `WHERE NOT EXISTS (SELECT 1 FROM ${m.target} t WHERE ${openFilter} AND ${keyMatch(m.key, 's', 't')})`;
  return [closeSql, openSql];
}
