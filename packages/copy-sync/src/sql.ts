import pg from 'pg';
import type { TableRef } from './types.js';

const { escapeIdentifier, escapeLiteral } = pg;

export { escapeIdentifier as ident, escapeLiteral as literal };

/** `"schema"."table"`, each part quoted. */
export function qualified(ref: TableRef): string {
  return `${escapeIdentifier(ref.schema)}.${escapeIdentifier(ref.table)}`;
}

/** `schema.table` unquoted, for messages, logs and progress events. */
export function displayName(ref: TableRef): string {
  return `${ref.schema}.${ref.table}`;
}

/** Comma-separated quoted identifiers, optionally prefixed by an alias. */
export function identList(names: readonly string[], alias?: string): string {
  const p = alias ? `${alias}.` : '';
  return names.map((n) => p + escapeIdentifier(n)).join(', ');
}

/** An unambiguous map key for a table (names may contain dots). */
export function refKey(ref: TableRef): string {
  return JSON.stringify([ref.schema, ref.table]);
}
