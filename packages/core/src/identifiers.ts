/**
 * SQL quoting without a driver: the same output as `pg`'s `escapeIdentifier`
 * and `escapeLiteral`, so zero-dependency code quotes exactly as the packages
 * that use `pg` do.
 */

/** `"name"`, inner double quotes doubled: any name, any case, reserved words too. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * `'value'`, quotes and backslashes doubled; a value with a backslash becomes
 * ` E'...'` (with pg's leading space), which reads the same whatever
 * `standard_conforming_strings` is.
 */
export function quoteLiteral(value: string): string {
  const body = value.replaceAll("'", "''");
  return value.includes('\\') ? ` E'${body.replaceAll('\\', '\\\\')}'` : `'${body}'`;
}

/**
 * Keywords that cannot name a table unquoted: PostgreSQL's reserved and
 * type/function-name keywords (`pg_get_keywords()` catcode R and T, version 18).
 */
const NEEDS_QUOTES = new Set(
  (
    'all analyse analyze and any array as asc asymmetric authorization binary both case cast ' +
    'check collate collation column concurrently constraint create cross current_catalog ' +
    'current_date current_role current_schema current_time current_timestamp current_user ' +
    'default deferrable desc distinct do else end except false fetch for foreign freeze from ' +
    'full grant group having ilike in initially inner intersect into is isnull join lateral ' +
    'leading left like limit localtime localtimestamp natural not notnull null offset on only ' +
    'or order outer overlaps placing primary references returning right select session_user ' +
    'similar some symmetric system_user table tablesample then to trailing true union unique ' +
    'user using variadic verbose when where window with'
  ).split(' '),
);

/**
 * The name as SQL reads it back: bare when it is a plain lower-case
 * identifier that is not a reserved word, quoted otherwise (`orders`,
 * `"Orders"`, `"user"`, `"a.b"`).
 */
export function displayIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) && !NEEDS_QUOTES.has(name) ? name : quoteIdent(name);
}
