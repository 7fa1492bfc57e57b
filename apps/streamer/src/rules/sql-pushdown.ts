import pg from 'pg';
import type { CelTypeName } from './cel-values.js';

/**
 * A CEL filter as a pre-filter the source runs in the initial copy's query.
 * The condition may only leave out rows the filter would leave out: the
 * process still evaluates the filter on every row the source sends. So each
 * part is translated only where PostgreSQL computes the same answer (or
 * keeps more rows), and whatever is not translated counts as TRUE.
 *
 * - Comparisons of a column with a literal: `(col op lit) IS NOT FALSE`, so a
 *   NULL (where CEL may raise an error or answer) is never left out by SQL.
 * - numeric columns compare as float8, as CEL compares them (as doubles);
 *   strings only for equality (ordering depends on the collation).
 * - `&&` keeps the parts it can translate; `||` needs both; `!` needs an
 *   exact part, and comparisons are not exact (NULL), so negations are not
 *   pushed down.
 */

interface Node {
  op: string;
  args: unknown;
}

interface Part {
  sql: string;
  /** SQL false exactly where the filter is false (negatable). */
  exact: boolean;
}

const COMPARE = new Set(['==', '!=', '<', '<=', '>', '>=']);
const FLIP: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=' };
const SQL_OP: Record<string, string> = { '==': '=', '!=': '<>' };

const isNode = (x: unknown): x is Node =>
  typeof x === 'object' && x !== null && 'op' in x && 'args' in x;

type Column = { name: string; type: CelTypeName };

function literal(n: Node, type: CelTypeName): string | undefined {
  if (n.op !== 'value') return undefined;
  const v = n.args;
  switch (type) {
    case 'int':
      // An int column against a double literal: CEL compares exactly, float8 may not (past 2^53).
      return typeof v === 'bigint' ? v.toString() : undefined;
    case 'double':
      if (typeof v === 'bigint' || (typeof v === 'number' && Number.isFinite(v)))
        return `${pg.escapeLiteral(String(v))}::float8`;
      return undefined;
    case 'string':
      return typeof v === 'string' ? pg.escapeLiteral(v) : undefined;
    case 'bool':
      return typeof v === 'boolean' ? String(v) : undefined;
    default:
      return undefined;
  }
}

function columnSql(c: Column): string {
  const id = pg.escapeIdentifier(c.name);
  // CEL holds numeric values as doubles: compare them as PostgreSQL's float8, the same rounding.
  return c.type === 'double' ? `${id}::float8` : id;
}

export function filterToSql(
  ast: unknown,
  columns: ReadonlyMap<string, Column>,
): string | undefined {
  const column = (n: unknown): Column | undefined =>
    isNode(n) && n.op === 'id' && typeof n.args === 'string' ? columns.get(n.args) : undefined;

  const translate = (n: unknown): Part | undefined => {
    if (!isNode(n)) return undefined;
    const args = Array.isArray(n.args) ? n.args : [];
    if (n.op === '&&') {
      const parts = args.map(translate);
      const kept = parts.filter((p): p is Part => p !== undefined);
      if (kept.length === 0) return undefined;
      return {
        sql: kept.map((p) => `(${p.sql})`).join(' AND '),
        exact: kept.length === parts.length && kept.every((p) => p.exact),
      };
    }
    if (n.op === '||') {
      const parts = args.map(translate);
      if (parts.some((p) => p === undefined)) return undefined;
      const all = parts as Part[];
      return { sql: all.map((p) => `(${p.sql})`).join(' OR '), exact: all.every((p) => p.exact) };
    }
    if (n.op === '!_') {
      const inner = translate(n.args);
      return inner?.exact ? { sql: `NOT (${inner.sql})`, exact: true } : undefined;
    }
    if (n.op === 'id') {
      const c = column(n);
      return c?.type === 'bool' ? { sql: `${columnSql(c)} IS NOT FALSE`, exact: false } : undefined;
    }
    if (COMPARE.has(n.op) && args.length === 2) {
      let [a, b] = args;
      let op = n.op;
      if (!column(a) && column(b)) {
        [a, b] = [b, a];
        op = FLIP[op] ?? op;
      }
      const c = column(a);
      if (!c || !isNode(b)) return undefined;
      if (c.type === 'string' && op !== '==' && op !== '!=') return undefined;
      const lit = literal(b, c.type);
      if (lit === undefined) return undefined;
      return { sql: `(${columnSql(c)} ${SQL_OP[op] ?? op} ${lit}) IS NOT FALSE`, exact: false };
    }
    if (n.op === 'in' && args.length === 2) {
      const c = column(args[0]);
      const list = args[1];
      if (!c || !isNode(list) || list.op !== 'list' || !Array.isArray(list.args)) return undefined;
      const lits = (list.args as unknown[]).map((x) =>
        isNode(x) ? literal(x, c.type) : undefined,
      );
      if (lits.length === 0 || lits.some((l) => l === undefined)) return undefined;
      return { sql: `(${columnSql(c)} IN (${lits.join(', ')})) IS NOT FALSE`, exact: false };
    }
    return undefined;
  };
  return translate(ast)?.sql;
}
