import { escapeLiteral, escapeIdentifier as id } from 'pg';
import { type ChangeTuple, UNCHANGED, WIRE_UNCHANGED, type WireTuple } from '../change.js';
import { HISTORY_START, OPEN_END } from '../target/target-ddl.js';
import { wireValue } from '../wire-tuple.js';
import { CopyPayload } from './copy-payload.js';
import type { CopyStatement } from './copy-rows.js';
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
  /** Set by `sourceCte` when the batch is staged by COPY. */
  staged: Staged | undefined = undefined;
  /** The batch's rows (set by `sourceCte`). */
  rows = 0;
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

/** Whether column `src` of a row (values, or a wire tuple's offsets) is an unchanged TOAST value. */
function unchangedAt(row: ChangeTuple | WireTuple, src: number): boolean {
  if (Array.isArray(row)) return row[src] === UNCHANGED;
  const w = row as WireTuple;
  return src < w.count && w.offsets[w.at + 2 * src] === WIRE_UNCHANGED;
}

/** '0110': which shape columns hold an unchanged TOAST value; null when none. A wire tuple is read from its offsets alone. */
export function mask(shape: Shape, row: ChangeTuple | WireTuple | undefined): string | null {
  if (!row) return null;
  const cols = shape.cols;
  let i = 0;
  while (i < cols.length && !unchangedAt(row, cols[i]!.src)) i++;
  if (i === cols.length) return null;
  let m = '';
  for (const c of cols) m += unchangedAt(row, c.src) ? '1' : '0';
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
  /**
   * Stage the batch in a temporary table by COPY (see `Staged`) instead of
   * inlining it as array literals.
   */
  stage?: boolean;
}

/**
 * A batch's rows in a temporary table of this transaction's connection,
 * written by COPY before the statement that reads them runs: values go from
 * the changes' bytes into the payload, with no string per value and no
 * array literal for the server to parse. `ON COMMIT DELETE ROWS`; the
 * executor creates it (IF NOT EXISTS) on a transaction's first use and
 * empties it when the transaction uses it again.
 */
export interface Staged {
  /** `pg_temp.<name>`: named after its columns, so statements of one layout share it. */
  table: string;
  ddl: string;
  copy: CopyStatement;
}

/** One column of the `s` rows: its name, array type, and how an operation fills it. */
interface SourceColumn<R> {
  name: string;
  type: 'text' | 'bool' | 'int';
  get: (op: PlannedOp<R>) => string | boolean | null;
  /** Writes the value as bytes where the operation has them (the staged path). */
  write?: (payload: CopyPayload, op: PlannedOp<R>) => void;
}

const newValue =
  <R>(src: number) =>
  (payload: CopyPayload, o: PlannedOp<R>) => {
    if (o.wire) payload.wireCell(o.wire, src);
    else payload.cell(cell(o.newT?.[src]));
  };

const whereValue =
  <R>(src: number) =>
  (payload: CopyPayload, o: PlannedOp<R>) => {
    if (o.whereWire) payload.wireCell(o.whereWire, src);
    else payload.cell(cell(o.whereT?.[src]));
  };

export function sourceCte<R>(shape: Shape, p: Params, spec: SourceSpec<R>): Source {
  const cols: SourceColumn<R>[] = [];
  const ops = spec.ops;
  p.rows = Math.max(p.rows, ops.length);
  let newMask = false;
  let oldMask = false;
  if (spec.values) {
    shape.cols.forEach((c, i) => {
      cols.push({
        name: `v${i}`,
        type: 'text',
        get: (o) => cell(o.newT?.[c.src]),
        write: newValue(c.src),
      });
    });
    if (ops.some((o) => mask(shape, o.wire ?? o.newT) !== null)) {
      newMask = true;
      cols.push({ name: 'm', type: 'text', get: (o) => mask(shape, o.wire ?? o.newT) });
    }
  }
  if (spec.keyValues && !spec.values) {
    for (const k of shape.keyCols) {
      const c = shape.cols[k]!;
      cols.push({
        name: `v${k}`,
        type: 'text',
        // A row that arrived as bytes has only its key column decoded.
        get: (o) => cell(o.wire ? wireValue(o.wire, c.src) : o.newT?.[c.src]),
        write: newValue(c.src),
      });
    }
  }
  if (spec.keys) {
    shape.keyCols.forEach((k, j) => {
      const c = shape.cols[k]!;
      cols.push({
        name: `k${j}`,
        type: 'text',
        get: (o) => cell(o.whereT?.[c.src]),
        write: whereValue(c.src),
      });
    });
    if (shape.full && ops.some((o) => mask(shape, o.whereWire ?? o.whereT) !== null)) {
      oldMask = true;
      cols.push({ name: 'om', type: 'text', get: (o) => mask(shape, o.whereWire ?? o.whereT) });
    }
  }
  if (spec.time) cols.push({ name: 'tm', type: 'text', get: (o) => o.time });
  if (spec.deleted)
    cols.push({ name: 'del', type: 'bool', get: (o) => o.kind === 'delete' && o.leaves !== true });
  if (spec.kind)
    cols.push({ name: 'op', type: 'text', get: (o) => (o.kind === 'insert' ? 'I' : 'U') });
  const names = cols.map((c) => c.name).join(', ');
  if (spec.stage) {
    const staged = stage(cols, names, ops);
    p.staged = staged;
    return {
      cte: `s AS MATERIALIZED (SELECT ${names}, ord FROM ${staged.table})`,
      newMask,
      oldMask,
    };
  }
  if (ops.length === 1) {
    // One row: scalar parameters, so the server parses no array literal and runs no unnest; inlined
    // (constants, nothing volatile), so each lookup is a plain index scan on the values.
    const one = ops[0]!;
    const row = cols.map((c) => `${p.add(c.get(one), c.type)} AS ${c.name}`);
    return {
      cte: `s AS NOT MATERIALIZED (SELECT ${row.join(', ')}, 1::bigint AS ord)`,
      newMask,
      oldMask,
    };
  }
  const arrays = cols.map((c) => p.column(ops, c.get, `${c.type}[]`));
  return {
    cte: `s AS MATERIALIZED (SELECT * FROM unnest(${arrays.join(', ')}) WITH ORDINALITY AS s(${names}, ord))`,
    newMask,
    oldMask,
  };
}

/**
 * The staging table's name: its column layout, or, when that would pass
 * PostgreSQL's 63-byte identifiers (which it would cut, so that two layouts
 * could share one table), the column count and a hash of the layout.
 */
export function stagingName(cols: readonly { name: string; type: string }[]): string {
  const layout = cols.map((c) => (c.type === 'text' ? c.name : `${c.name}_${c.type}`)).join('_');
  if (layout.length <= 48) return `kvsz_s_${layout}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < layout.length; i++) h = Math.imul(h ^ layout.charCodeAt(i), 0x01000193);
  return `kvsz_s_${cols.length}_${(h >>> 0).toString(16)}`;
}

function stage<R>(cols: SourceColumn<R>[], names: string, ops: PlannedOp<R>[]): Staged {
  const table = `pg_temp.${stagingName(cols)}`;
  const payload = new CopyPayload();
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!;
    payload.beginRow();
    for (const c of cols) {
      if (c.write) c.write(payload, o);
      else {
        const v = c.get(o);
        payload.cell(typeof v === 'boolean' ? (v ? 't' : 'f') : v);
      }
    }
    payload.intCell(i + 1);
    payload.endRow();
  }
  return {
    table,
    ddl: `CREATE TEMP TABLE IF NOT EXISTS ${table} (${cols.map((c) => `${c.name} ${c.type}`).join(', ')}, ord int) ON COMMIT DELETE ROWS`,
    copy: {
      text: `COPY ${table} (${names}, ord) FROM STDIN`,
      rows: payload.rows,
      chunks: payload.take(),
    },
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
