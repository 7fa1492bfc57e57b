import { escapeLiteral, escapeIdentifier as id } from 'pg';
import { type ChangeTuple, UNCHANGED } from '../change.js';
import { HISTORY_START, OPEN_END } from '../target/target-ddl.js';
import type { PlannedOp } from './plan-units.js';
import type { Shape, ShapeColumn } from './shape.js';

/**
 * The parts the statement builders share: parameters (one text[] per
 * column), the `s` CTE that turns them back into rows, casts, row matches.
 */

export const OPEN = `${escapeLiteral(OPEN_END)}::timestamptz`;
export const START = `${escapeLiteral(HISTORY_START)}::timestamptz`;

export class Params {
  readonly values: unknown[] = [];
  add(value: unknown, cast: string): string {
    this.values.push(Array.isArray(value) ? arrayLiteral(value) : value);
    return `$${this.values.length}::${cast}`;
  }
  /** One text[] (or bool[]) parameter: `get` applied to every item. */
  column<T>(items: readonly T[], get: (item: T) => unknown, cast: string): string {
    this.values.push(literalOf(items, get));
    return `$${this.values.length}::${cast}`;
  }
}

/**
 * A PostgreSQL array literal of text values, built in one pass: cheaper than
 * letting `pg` escape every element with two regular expressions, which
 * shows in profiles at 10,000 rows per statement.
 */
export function arrayLiteral(values: readonly unknown[]): string {
  return literalOf(values, (v) => v);
}

/** `arrayLiteral(items.map(get))` without the intermediate array. */
export function literalOf<T>(items: readonly T[], get: (item: T) => unknown): string {
  let out = '{';
  for (let i = 0; i < items.length; i++) {
    const v = get(items[i]!);
    if (i > 0) out += ',';
    if (v === null || v === undefined) out += 'NULL';
    else {
      const t = typeof v === 'string' ? v : String(v);
      out +=
        t.indexOf('"') < 0 && t.indexOf('\\') < 0 ? `"${t}"` : `"${t.replace(/[\\"]/g, '\\$&')}"`;
    }
  }
  return `${out}}`;
}

export function cell(v: ChangeTuple[number] | undefined): string | null {
  return v === UNCHANGED || v === undefined ? null : v;
}

/** '0110': which shape columns hold an unchanged TOAST value; null when none. */
export function mask(shape: Shape, t: ChangeTuple | undefined): string | null {
  if (!t) return null;
  let i = 0;
  while (i < shape.cols.length && t[shape.cols[i]!.src] !== UNCHANGED) i++;
  if (i === shape.cols.length) return null;
  let m = '';
  for (const c of shape.cols) m += t[c.src] === UNCHANGED ? '1' : '0';
  return m;
}

export interface Source {
  cte: string;
  /** Whether the `m` (new values) / `om` (old values) mask columns exist. */
  newMask: boolean;
  oldMask: boolean;
}

export interface SourceSpec<R> {
  values?: boolean;
  /** Only the key columns of the new values (as `v<i>`, like `values`). */
  keyValues?: boolean;
  keys?: boolean;
  time?: boolean;
  deleted?: boolean;
  kind?: boolean;
  ops: PlannedOp<R>[];
}

export function sourceCte<R>(shape: Shape, p: Params, spec: SourceSpec<R>): Source {
  const arrays: string[] = [];
  const names: string[] = [];
  const ops = spec.ops;
  let newMask = false;
  let oldMask = false;
  if (spec.values) {
    shape.cols.forEach((c, i) => {
      arrays.push(p.column(ops, (o) => cell(o.newT?.[c.src]), 'text[]'));
      names.push(`v${i}`);
    });
    if (ops.some((o) => mask(shape, o.newT) !== null)) {
      newMask = true;
      arrays.push(p.column(ops, (o) => mask(shape, o.newT), 'text[]'));
      names.push('m');
    }
  }
  if (spec.keyValues && !spec.values) {
    for (const k of shape.keyCols) {
      const c = shape.cols[k]!;
      arrays.push(p.column(ops, (o) => cell(o.newT?.[c.src]), 'text[]'));
      names.push(`v${k}`);
    }
  }
  if (spec.keys) {
    shape.keyCols.forEach((k, j) => {
      const c = shape.cols[k]!;
      arrays.push(p.column(ops, (o) => cell(o.whereT?.[c.src]), 'text[]'));
      names.push(`k${j}`);
    });
    if (shape.full && ops.some((o) => mask(shape, o.whereT) !== null)) {
      oldMask = true;
      arrays.push(p.column(ops, (o) => mask(shape, o.whereT), 'text[]'));
      names.push('om');
    }
  }
  if (spec.time) {
    arrays.push(p.column(ops, (o) => o.time, 'text[]'));
    names.push('tm');
  }
  if (spec.deleted) {
    arrays.push(p.column(ops, (o) => o.kind === 'delete' && o.leaves !== true, 'bool[]'));
    names.push('del');
  }
  if (spec.kind) {
    arrays.push(p.column(ops, (o) => (o.kind === 'insert' ? 'I' : 'U'), 'text[]'));
    names.push('op');
  }
  return {
    cte: `s AS MATERIALIZED (SELECT * FROM unnest(${arrays.join(', ')}) WITH ORDINALITY AS s(${names.join(', ')}, ord))`,
    newMask,
    oldMask,
  };
}

/**
 * The sid restriction of a lookup into the target. On a plain table the sid
 * is compared through a scalar subquery, which the planner estimates as
 * "one sid of n_distinct", never from the value: a tenant whose rows were
 * just copied into a shared table is absent from its statistics, the value
 * would be estimated at one row, and the planner would scan all of that
 * sid's rows once per change of the batch (measured: 85 s instead of 45 ms
 * for 3,000 updates after a 200,000-row copy). A partitioned target keeps
 * the value, so that its partitions are pruned when the statement is
 * planned; each partition has statistics of its own.
 */
export function sidCond(shape: Shape, sidParam: string | undefined, alias = 't'): string {
  if (!sidParam || !shape.target.sid) return '';
  const value = shape.target.description.kind === 'p' ? sidParam : `(SELECT ${sidParam})`;
  return `${alias}.sid = ${value} AND `;
}

export function sidParamOf(shape: Shape, p: Params, sid: string): string | undefined {
  return shape.target.sid ? p.add(sid, shape.target.sid.type) : undefined;
}

/**
 * Length-limited types, cast without their length: an explicit cast to
 * varchar(n), char(n), bit(n) would silently cut a longer value, where the
 * assignment to the column (and COPY, and native replication) rejects it.
 */
export const UNLIMITED: Record<number, string> = {
  1042: 'pg_catalog.bpchar',
  1043: 'pg_catalog.varchar',
  1560: 'pg_catalog."bit"',
  1562: 'pg_catalog.varbit',
  1014: 'pg_catalog.bpchar[]',
  1015: 'pg_catalog.varchar[]',
  1561: 'pg_catalog."bit"[]',
  1563: 'pg_catalog.varbit[]',
};

export function cast(expr: string, c: ShapeColumn): string {
  return `${expr}::${UNLIMITED[c.typeOid] ?? c.type}`;
}

/**
 * Row match on the key columns. Keys of a primary key or identity index use
 * `=` (never NULL, index-friendly); under FULL every column is compared
 * NULL-safely, through `::text` for types without a btree equality.
 */
export function match(
  shape: Shape,
  value: (j: number) => string,
  oldMask: boolean,
  alias = 't',
): string {
  return shape.keyCols
    .map((k, j) => {
      const c = shape.cols[k]!;
      const col = `${alias}.${id(c.name)}`;
      const v = cast(value(j), c);
      let cond: string;
      if (!shape.full) cond = c.eq ? `${col} = ${v}` : `${col}::text = (${v})::text`;
      else
        cond = c.eq
          ? `${col} IS NOT DISTINCT FROM ${v}`
          : `${col}::text IS NOT DISTINCT FROM (${v})::text`;
      return oldMask ? `(substr(s.om, ${k + 1}, 1) = '1' OR ${cond})` : cond;
    })
    .join(' AND ');
}

export const keyRef = (j: number) => `s.k${j}`;

/** Under FULL, one row per change, as native replication does: pick one matching row's ctid. */
export function locator(
  shape: Shape,
  sidParam: string | undefined,
  src: Source,
  extra = '',
): string {
  return `l AS MATERIALIZED (SELECT s.ord, x.toid, x.tid FROM s CROSS JOIN LATERAL (SELECT t.tableoid AS toid, t.ctid AS tid FROM ${shape.target.qualified} t WHERE ${sidCond(shape, sidParam)}${match(shape, keyRef, src.oldMask)}${extra} LIMIT 1) x)`;
}

export const MISSING = (cte: string) =>
  `SELECT s.ord::int AS ord FROM s WHERE s.ord NOT IN (SELECT ${cte}.ord FROM ${cte})`;

export function insertHead(shape: Shape, extra: string[] = []): string {
  const cols = [
    ...(shape.target.sid ? ['sid'] : []),
    ...shape.cols.map((c) => id(c.name)),
    ...extra,
  ];
  return `INSERT INTO ${shape.target.qualified} (${cols.join(', ')})${shape.overriding ? ' OVERRIDING SYSTEM VALUE' : ''}`;
}

export const valueRef = (shape: Shape) => (j: number) => `s.v${shape.keyCols[j]!}`;
