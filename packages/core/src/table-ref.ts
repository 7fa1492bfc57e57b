import { displayIdent, quoteIdent } from './identifiers.js';

/** A table as spelled in the catalog: case-sensitive, never quoted by the caller. */
export interface TableRef {
  schema: string;
  table: string;
}

/** `"schema"."table"`, both parts always quoted: for SQL. */
export function qualifiedName(ref: TableRef): string {
  return `${quoteIdent(ref.schema)}.${quoteIdent(ref.table)}`;
}

/**
 * `schema.table` for messages and logs, each part quoted only where SQL
 * needs it (`public.orders`, `public."Orders"`, `app."user"`), so the text
 * is unambiguous and can be pasted into SQL.
 */
export function displayName(ref: TableRef): string {
  return `${displayIdent(ref.schema)}.${displayIdent(ref.table)}`;
}

/** A map key for a table; unambiguous because names cannot contain NUL. */
export function tableKey(ref: TableRef): string {
  return `${ref.schema}\u0000${ref.table}`;
}

export function sameTable(a: TableRef, b: TableRef): boolean {
  return a.schema === b.schema && a.table === b.table;
}
