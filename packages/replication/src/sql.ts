/**
 * A string literal for the replication command grammar, which knows only
 * standard `'...'` strings with `''` doubling (no `E'...'`, and backslashes
 * are plain characters).
 */
export function replicationLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
