import { escapeLiteral, escapeIdentifier as id } from 'pg';
import { type ChangeTuple, UNCHANGED } from './change.js';
import type { PlannedOp } from './plan-units.js';
import type { Shape, ShapeColumn } from './shape.js';
import { HISTORY_START, OPEN_END } from './target-ddl.js';

/**
 * Pure builders of the set-based statements: SQL text plus parameters, one
 * text[] per column (values in PostgreSQL text format, cast to the target
 * column's type in SQL). Every statement covers many changes in one round
 * trip; `ord` (1-based position in `ops`) maps result rows back to changes.
 */
export interface Statement {
  text: string;
  values: unknown[];
  /**
   * Every join of the batch to the target is an index probe by key (see
   * `Shape.keyIndex`): run with hash and merge joins disabled. Never set on
   * statements that join the batch to itself (ON CONFLICT anti-joins,
   * `p.ord = s.ord`, semi-joins on a CTE), which nested loops would make
   * quadratic.
   */
  nestedLoop?: boolean;
}

const OPEN = `${escapeLiteral(OPEN_END)}::timestamptz`;
const START = `${escapeLiteral(HISTORY_START)}::timestamptz`;

class Params {
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
function literalOf<T>(items: readonly T[], get: (item: T) => unknown): string {
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

function cell(v: ChangeTuple[number] | undefined): string | null {
  return v === UNCHANGED || v === undefined ? null : v;
}

/** '0110': which shape columns hold an unchanged TOAST value; null when none. */
function mask(shape: Shape, t: ChangeTuple | undefined): string | null {
  if (!t) return null;
  let i = 0;
  while (i < shape.cols.length && t[shape.cols[i]!.src] !== UNCHANGED) i++;
  if (i === shape.cols.length) return null;
  let m = '';
  for (const c of shape.cols) m += t[c.src] === UNCHANGED ? '1' : '0';
  return m;
}

interface Source {
  cte: string;
  /** Whether the `m` (new values) / `om` (old values) mask columns exist. */
  newMask: boolean;
  oldMask: boolean;
}

interface SourceSpec<R> {
  values?: boolean;
  /** Only the key columns of the new values (as `v<i>`, like `values`). */
  keyValues?: boolean;
  keys?: boolean;
  time?: boolean;
  deleted?: boolean;
  kind?: boolean;
  ops: PlannedOp<R>[];
}

function sourceCte<R>(shape: Shape, p: Params, spec: SourceSpec<R>): Source {
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
    arrays.push(p.column(ops, (o) => o.kind === 'delete', 'bool[]'));
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

function sidCond(shape: Shape, sidParam: string | undefined, alias = 't'): string {
  return sidParam && shape.target.sid ? `${alias}.sid = ${sidParam} AND ` : '';
}

function sidParamOf(shape: Shape, p: Params, sid: string): string | undefined {
  return shape.target.sid ? p.add(sid, shape.target.sid.type) : undefined;
}

/**
 * Length-limited types, cast without their length: an explicit cast to
 * varchar(n), char(n), bit(n) would silently cut a longer value, where the
 * assignment to the column (and COPY, and native replication) rejects it.
 */
const UNLIMITED: Record<number, string> = {
  1042: 'pg_catalog.bpchar',
  1043: 'pg_catalog.varchar',
  1560: 'pg_catalog."bit"',
  1562: 'pg_catalog.varbit',
  1014: 'pg_catalog.bpchar[]',
  1015: 'pg_catalog.varchar[]',
  1561: 'pg_catalog."bit"[]',
  1563: 'pg_catalog.varbit[]',
};

function cast(expr: string, c: ShapeColumn): string {
  return `${expr}::${UNLIMITED[c.typeOid] ?? c.type}`;
}

/**
 * Row match on the key columns. Keys of a primary key or identity index use
 * `=` (never NULL, index-friendly); under FULL every column is compared
 * NULL-safely, through `::text` for types without a btree equality.
 */
function match(shape: Shape, value: (j: number) => string, oldMask: boolean, alias = 't'): string {
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

const keyRef = (j: number) => `s.k${j}`;

/** Under FULL, one row per change, as native replication does: pick one matching row's ctid. */
function locator(shape: Shape, sidParam: string | undefined, src: Source, extra = ''): string {
  return `l AS MATERIALIZED (SELECT s.ord, x.toid, x.tid FROM s CROSS JOIN LATERAL (SELECT t.tableoid AS toid, t.ctid AS tid FROM ${shape.target.qualified} t WHERE ${sidCond(shape, sidParam)}${match(shape, keyRef, src.oldMask)}${extra} LIMIT 1) x)`;
}

const MISSING = (cte: string) =>
  `SELECT s.ord::int AS ord FROM s WHERE s.ord NOT IN (SELECT ${cte}.ord FROM ${cte})`;

/** Clone DELETE; returns the `ord`s that matched no row. */
export function deleteRows<R>(shape: Shape, sid: string, ops: PlannedOp<R>[]): Statement {
  const p = new Params();
  const sp = sidParamOf(shape, p, sid);
  const src = sourceCte(shape, p, { keys: true, ops });
  const t = shape.target.qualified;
  if (shape.full) {
    return {
      text: `WITH ${src.cte}, ${locator(shape, sp, src)}, d AS (DELETE FROM ${t} t USING l WHERE t.tableoid = l.toid AND t.ctid = l.tid RETURNING l.ord) ${MISSING('d')}`,
      values: p.values,
    };
  }
  return {
    text: `WITH ${src.cte}, d AS (DELETE FROM ${t} t USING s WHERE ${sidCond(shape, sp)}${match(shape, keyRef, false)} RETURNING s.ord) ${MISSING('d')}`,
    values: p.values,
    nestedLoop: shape.keyIndex === 'any',
  };
}

function setList(shape: Shape, src: Source): string {
  return shape.cols
    .map((c, i) => {
      const v = cast(`s.v${i}`, c);
      const expr = src.newMask
        ? `CASE WHEN substr(s.m, ${i + 1}, 1) = '1' THEN t.${id(c.name)} ELSE ${v} END`
        : v;
      return `${id(c.name)} = ${expr}`;
    })
    .join(', ');
}

/** Clone / append UPDATE (unchanged TOAST columns keep their value); returns unmatched `ord`s. */
export function updateRows<R>(shape: Shape, sid: string, ops: PlannedOp<R>[]): Statement {
  const p = new Params();
  const sp = sidParamOf(shape, p, sid);
  const src = sourceCte(shape, p, { values: true, keys: true, ops });
  const t = shape.target.qualified;
  if (shape.full) {
    return {
      text: `WITH ${src.cte}, ${locator(shape, sp, src)}, u AS (UPDATE ${t} t SET ${setList(shape, src)} FROM s JOIN l ON l.ord = s.ord WHERE t.tableoid = l.toid AND t.ctid = l.tid RETURNING s.ord) ${MISSING('u')}`,
      values: p.values,
    };
  }
  return {
    text: `WITH ${src.cte}, u AS (UPDATE ${t} t SET ${setList(shape, src)} FROM s WHERE ${sidCond(shape, sp)}${match(shape, keyRef, false)} RETURNING s.ord) ${MISSING('u')}`,
    values: p.values,
    nestedLoop: shape.keyIndex === 'any',
  };
}

function insertHead(shape: Shape, extra: string[] = []): string {
  const cols = [
    ...(shape.target.sid ? ['sid'] : []),
    ...shape.cols.map((c) => id(c.name)),
    ...extra,
  ];
  return `INSERT INTO ${shape.target.qualified} (${cols.join(', ')})${shape.overriding ? ' OVERRIDING SYSTEM VALUE' : ''}`;
}

const valueRef = (shape: Shape) => (j: number) => `s.v${shape.keyCols[j]!}`;

/**
 * Clone / append INSERT. With `probe`, rows whose key already exists are not
 * inserted and their `ord`s are returned (the existing row is kept). The
 * probe and the insert read the same snapshot, so the result is exact.
 */
export function insertRows<R>(
  shape: Shape,
  sid: string,
  ops: PlannedOp<R>[],
  probe: boolean,
): Statement {
  const p = new Params();
  const sp = sidParamOf(shape, p, sid);
  const src = sourceCte(shape, p, { values: true, ops });
  const vals = [...(sp ? [sp] : []), ...shape.cols.map((c, i) => cast(`s.v${i}`, c))].join(', ');
  if (!probe) {
    return {
      text: `WITH ${src.cte}, i AS (${insertHead(shape)} SELECT ${vals} FROM s) SELECT NULL::int AS ord WHERE false`,
      values: p.values,
    };
  }
  if (shape.arbiter) {
    // The unique index decides; rows it refused are the conflicts (anti-join on the returned keys).
    const keys = shape.keyCols.map((k) => id(shape.cols[k]!.name));
    const back = shape.keyCols
      .map((k, j) => `i.${keys[j]} = ${cast(`s.v${k}`, shape.cols[k]!)}`)
      .join(' AND ');
    return {
      text: `WITH ${src.cte}, i AS (${insertHead(shape)} SELECT ${vals} FROM s ON CONFLICT (${shape.arbiter.map((c) => id(c)).join(', ')}) DO NOTHING RETURNING ${keys.join(', ')}) SELECT s.ord::int AS ord FROM s WHERE NOT EXISTS (SELECT 1 FROM i WHERE ${back})`,
      values: p.values,
    };
  }
  return {
    text: `WITH ${src.cte}, h AS MATERIALIZED (SELECT s.ord FROM s WHERE EXISTS (SELECT 1 FROM ${shape.target.qualified} t WHERE ${sidCond(shape, sp)}${match(shape, valueRef(shape), false)})), i AS (${insertHead(shape)} SELECT ${vals} FROM s WHERE s.ord NOT IN (SELECT h.ord FROM h)) SELECT h.ord::int AS ord FROM h`,
    values: p.values,
    nestedLoop: shape.keyIndex === 'any',
  };
}

/** History: close the open version of each key (delete: mark it deleted); returns unmatched `ord`s. */
export function closeVersions<R>(shape: Shape, sid: string, ops: PlannedOp<R>[]): Statement {
  const p = new Params();
  const sp = sidParamOf(shape, p, sid);
  const src = sourceCte(shape, p, { keys: true, time: true, deleted: true, ops });
  const t = shape.target.qualified;
  const set = 'kvsz_end = s.tm::timestamptz, kvsz_deleted = s.del';
  if (shape.full) {
    return {
      text: `WITH ${src.cte}, ${locator(shape, sp, src, ` AND t.kvsz_end = ${OPEN}`)}, c AS (UPDATE ${t} t SET ${set} FROM s JOIN l ON l.ord = s.ord WHERE t.tableoid = l.toid AND t.ctid = l.tid RETURNING s.ord) ${MISSING('c')}`,
      values: p.values,
    };
  }
  return {
    text: `WITH ${src.cte}, c AS (UPDATE ${t} t SET ${set} FROM s WHERE ${sidCond(shape, sp)}t.kvsz_end = ${OPEN} AND ${match(shape, keyRef, false)} RETURNING s.ord) ${MISSING('c')}`,
    values: p.values,
    nestedLoop: shape.keyIndex !== undefined,
  };
}

/**
 * History, for updates that keep their key and carry every value: close the
 * open version and open the new one in one statement (the INSERT reads the
 * UPDATE's output, so every close happens before any open and the one-open-
 * version index never sees two). Returns the `ord`s that had no open version.
 */
export function closeAndReopen<R>(shape: Shape, sid: string, ops: PlannedOp<R>[]): Statement {
  const p = new Params();
  const sp = sidParamOf(shape, p, sid);
  const src = sourceCte(shape, p, { values: true, keys: true, time: true, ops });
  const t = shape.target.qualified;
  const vals = [...(sp ? [sp] : []), ...shape.cols.map((c, i) => cast(`s.v${i}`, c))];
  return {
    text: `WITH ${src.cte}, c AS (UPDATE ${t} t SET kvsz_end = s.tm::timestamptz FROM s WHERE ${sidCond(shape, sp)}t.kvsz_end = ${OPEN} AND ${match(shape, keyRef, false)} RETURNING s.ord), i AS (${insertHead(shape, ['kvsz_start', 'kvsz_end', 'kvsz_deleted'])} SELECT ${[...vals, 's.tm::timestamptz', OPEN, 'false'].join(', ')} FROM s WHERE s.ord IN (SELECT c.ord FROM c)) ${MISSING('c')}`,
    values: p.values,
  };
}

/**
 * History: open new versions, for inserts (from 1900-01-01, or from the
 * commit time when the key had versions before) and updates (from the commit
 * time; unchanged TOAST values come from the version just closed at that
 * time). Returns `{ ord, conflict }` for rows not inserted: `conflict` when
 * the key already has an open version, otherwise an unchanged TOAST value
 * that no previous version holds.
 */
export function insertVersions<R>(shape: Shape, sid: string, ops: PlannedOp<R>[]): Statement {
  const p = new Params();
  const sp = sidParamOf(shape, p, sid);
  const withKeys = ops.some((o) => o.kind === 'update' && mask(shape, o.newT) !== null);
  const src = sourceCte(shape, p, { values: true, keys: withKeys, time: true, kind: true, ops });
  const t = shape.target.qualified;
  const probe = shape.full
    ? 'NULL::timestamptz'
    : `(SELECT max(t.kvsz_end) FROM ${t} t WHERE ${sidCond(shape, sp)}${match(shape, valueRef(shape), false)})`;
  let prev = '';
  let prevCols = '';
  if (src.newMask) {
    const list = shape.cols.map((c, i) => `t.${id(c.name)} AS p${i}`).join(', ');
    prev = ` LEFT JOIN LATERAL (SELECT true AS found, ${list} FROM ${t} t WHERE ${sidCond(shape, sp)}${match(shape, keyRef, src.oldMask)} AND t.kvsz_end = s.tm::timestamptz ORDER BY t.kvsz_start DESC LIMIT 1) pv ON s.op = 'U' AND s.m IS NOT NULL`;
    prevCols = `, pv.found, ${shape.cols.map((_, i) => `pv.p${i}`).join(', ')}`;
  }
  const vals = shape.cols
    .map((c, i) => {
      const v = cast(`s.v${i}`, c);
      return src.newMask
        ? `CASE WHEN substr(s.m, ${i + 1}, 1) = '1' THEN p.p${i} ELSE ${v} END`
        : v;
    })
    .join(', ');
  const materializable = src.newMask ? '(s.m IS NULL OR p.found IS TRUE)' : 'true';
  const start = `CASE WHEN s.op = 'I' AND p.last_end IS NULL THEN ${START} ELSE s.tm::timestamptz END`;
  return {
    text: `WITH ${src.cte}, p AS MATERIALIZED (SELECT s.ord, ${probe} AS last_end${prevCols} FROM s${prev}), i AS (${insertHead(shape, ['kvsz_start', 'kvsz_end', 'kvsz_deleted'])} SELECT ${[...(sp ? [sp] : []), vals, start, OPEN, 'false'].join(', ')} FROM s JOIN p ON p.ord = s.ord WHERE p.last_end IS DISTINCT FROM ${OPEN} AND ${materializable}) SELECT s.ord::int AS ord, (p.last_end IS NOT DISTINCT FROM ${OPEN}) AS conflict FROM s JOIN p ON p.ord = s.ord WHERE p.last_end IS NOT DISTINCT FROM ${OPEN} OR NOT ${materializable}`,
    values: p.values,
  };
}

/**
 * History inserts, before they are copied in: the keys that already have
 * versions, as `{ ord, conflict }` (`conflict`: one is open, the insert is
 * refused; otherwise the key had versions and the new one starts at the
 * change's time instead of 1900-01-01). Keys never seen return nothing.
 */
export function probeVersions<R>(shape: Shape, sid: string, ops: PlannedOp<R>[]): Statement {
  const p = new Params();
  const sp = sidParamOf(shape, p, sid);
  const src = sourceCte(shape, p, { keyValues: true, ops });
  const last = `(SELECT max(t.kvsz_end) FROM ${shape.target.qualified} t WHERE ${sidCond(shape, sp)}${match(shape, valueRef(shape), false)})`;
  return {
    text: `WITH ${src.cte}, p AS (SELECT s.ord, ${last} AS last_end FROM s) SELECT p.ord::int AS ord, (p.last_end = ${OPEN}) AS conflict FROM p WHERE p.last_end IS NOT NULL`,
    values: p.values,
  };
}

/** TRUNCATE of a source table: clone removes that sid's rows; history closes its open versions. */
export function truncateRows(target: Shape['target'], sid: string, time: string): Statement {
  const p = new Params();
  const t = target.qualified;
  if (target.type === 'history') {
    const tm = p.add(time, 'timestamptz');
    const cond = target.sid ? `sid = ${p.add(sid, target.sid.type)} AND ` : '';
    return {
      text: `UPDATE ${t} SET kvsz_end = ${tm}, kvsz_deleted = true WHERE ${cond}kvsz_end = ${OPEN}`,
      values: p.values,
    };
  }
  if (!target.sid) return { text: `TRUNCATE ${t}`, values: [] };
  return { text: `DELETE FROM ${t} WHERE sid = ${p.add(sid, target.sid.type)}`, values: p.values };
}
