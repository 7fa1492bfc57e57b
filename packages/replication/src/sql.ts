import pg from 'pg';
import type { TableRef } from './types.js';

/** `"schema"."table"`, always quoted: mixed case, reserved words and dots stay intact. */
export function qualifiedName(t: TableRef): string {
  return `${pg.escapeIdentifier(t.schema)}.${pg.escapeIdentifier(t.table)}`;
}

/** Same as `qualifiedName`: how messages name a table. */
export const displayTable = qualifiedName;

/**
 * A string literal for the replication command grammar, which knows only
 * standard `'...'` strings with `''` doubling (no `E'...'`, and backslashes
 * are plain characters).
 */
export function replicationLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export function tableKey(t: TableRef): string {
  return `${t.schema}\u0000${t.table}`;
}

export function sameTable(a: TableRef, b: TableRef): boolean {
  return a.schema === b.schema && a.table === b.table;
}
