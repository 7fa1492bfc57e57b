import pg from 'pg';

const { escapeIdentifier, escapeLiteral } = pg;

export { escapeIdentifier as ident, escapeLiteral as literal };

/** Comma-separated quoted identifiers, optionally prefixed by an alias. */
export function identList(names: readonly string[], alias?: string): string {
  const p = alias ? `${alias}.` : '';
  return names.map((n) => p + escapeIdentifier(n)).join(', ');
}
