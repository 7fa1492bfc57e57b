import { escapeIdentifier as id } from 'pg';
import type { PlannedOp } from './plan-units.js';
import type { Shape } from './shape.js';
import {
  cast,
  insertHead,
  keyRef,
  locator,
  MISSING,
  mask,
  match,
  OPEN,
  Params,
  type Source,
  START,
  type Staged,
  sidCond,
  sidParamOf,
  sourceCte,
  valueRef,
} from './statement-parts.js';

export { arrayLiteral } from './statement-parts.js';

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
  /** The batch's rows, to be copied into their temporary table before the statement runs. */
  staged?: Staged | undefined;
  /**
   * How many rows the batch has: a small batch's statement runs as a
   * prepared statement (its generic plan, made once per connection, assumes
   * about 100 rows from an array parameter).
   */
  rows?: number;
}

/** A statement over a batch: its text with the parameters, rows and staging `p` collected. */
function statement(p: Params, text: string, nestedLoop?: boolean): Statement {
  return {
    text,
    values: p.values,
    rows: p.rows,
    staged: p.staged,
    ...(nestedLoop === undefined ? {} : { nestedLoop }),
  };
}

/** Clone DELETE; returns the `ord`s that matched no row. */
export function deleteRows<R>(
  shape: Shape,
  sid: string,
  ops: PlannedOp<R>[],
  stage = false,
): Statement {
  const p = new Params();
  const sp = sidParamOf(shape, p, sid);
  const src = sourceCte(shape, p, { keys: true, ops, stage });
  const t = shape.target.qualified;
  if (shape.full) {
    return statement(
      p,
      `WITH ${src.cte}, ${locator(shape, sp, src)}, d AS (DELETE FROM ${t} t USING l WHERE t.tableoid = l.toid AND t.ctid = l.tid RETURNING l.ord) ${MISSING('d')}`,
    );
  }
  return statement(
    p,
    `WITH ${src.cte}, d AS (DELETE FROM ${t} t USING s WHERE ${sidCond(shape, sp)}${match(shape, keyRef, false)} RETURNING s.ord) ${MISSING('d')}`,
    shape.keyIndex === 'any',
  );
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
export function updateRows<R>(
  shape: Shape,
  sid: string,
  ops: PlannedOp<R>[],
  stage = false,
): Statement {
  const p = new Params();
  const sp = sidParamOf(shape, p, sid);
  const src = sourceCte(shape, p, { values: true, keys: true, ops, stage });
  const t = shape.target.qualified;
  if (shape.full) {
    return statement(
      p,
      `WITH ${src.cte}, ${locator(shape, sp, src)}, u AS (UPDATE ${t} t SET ${setList(shape, src)} FROM s JOIN l ON l.ord = s.ord WHERE t.tableoid = l.toid AND t.ctid = l.tid RETURNING s.ord) ${MISSING('u')}`,
    );
  }
  return statement(
    p,
    `WITH ${src.cte}, u AS (UPDATE ${t} t SET ${setList(shape, src)} FROM s WHERE ${sidCond(shape, sp)}${match(shape, keyRef, false)} RETURNING s.ord) ${MISSING('u')}`,
    shape.keyIndex === 'any',
  );
}

/**
 * Clone / append UPDATE that also inserts the rows it found nowhere, from
 * the new values, with the unique index on (sid, key) as ON CONFLICT
 * arbiter; a row with an unchanged TOAST value is never inserted (it cannot
 * be rebuilt). Returns `{ ord, outcome }` for each change that matched no
 * row: `inserted`, `conflict` (its key exists after all) or
 * `unmaterializable`. Nothing else depends on its answer, so it travels with
 * the next message: a batch of updates is one round trip. Needs
 * `shape.arbiter` and a key (not FULL).
 */
export function updateOrInsertRows<R>(
  shape: Shape,
  sid: string,
  ops: PlannedOp<R>[],
  stage = false,
): Statement {
  if (shape.full || !shape.arbiter)
    throw new Error('updateOrInsertRows needs a key with a unique index');
  const p = new Params();
  const sp = sidParamOf(shape, p, sid);
  const src = sourceCte(shape, p, { values: true, keys: true, ops, stage });
  const t = shape.target.qualified;
  const vals = [...(sp ? [sp] : []), ...shape.cols.map((c, i) => cast(`x.v${i}`, c))].join(', ');
  const keys = shape.keyCols.map((k) => id(shape.cols[k]!.name)).join(', ');
  const newKey = shape.keyCols.map((k) => cast(`x.v${k}`, shape.cols[k]!)).join(', ');
  const rebuildable = src.newMask ? 'x.m IS NULL' : 'true';
  return statement(
    p,
    `WITH ${src.cte}, u AS (UPDATE ${t} t SET ${setList(shape, src)} FROM s WHERE ${sidCond(shape, sp)}${match(shape, keyRef, false)} RETURNING s.ord), x AS MATERIALIZED (SELECT s.* FROM s WHERE s.ord NOT IN (SELECT u.ord FROM u)), i AS (${insertHead(shape)} SELECT ${vals} FROM x WHERE ${rebuildable} ON CONFLICT (${shape.arbiter.map((c) => id(c)).join(', ')}) DO NOTHING RETURNING ${keys}) SELECT x.ord::int AS ord, CASE WHEN NOT (${rebuildable}) THEN 'unmaterializable' WHEN (${newKey}) IN (SELECT ${keys} FROM i) THEN 'inserted' ELSE 'conflict' END AS outcome FROM x`,
    shape.keyIndex === 'any',
  );
}

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
    return statement(
      p,
      `WITH ${src.cte}, i AS (${insertHead(shape)} SELECT ${vals} FROM s) SELECT NULL::int AS ord WHERE false`,
    );
  }
  if (shape.arbiter) {
    // The unique index decides; rows it refused are the conflicts (anti-join on the returned keys).
    const keys = shape.keyCols.map((k) => id(shape.cols[k]!.name));
    const back = shape.keyCols
      .map((k, j) => `i.${keys[j]} = ${cast(`s.v${k}`, shape.cols[k]!)}`)
      .join(' AND ');
    return statement(
      p,
      `WITH ${src.cte}, i AS (${insertHead(shape)} SELECT ${vals} FROM s ON CONFLICT (${shape.arbiter.map((c) => id(c)).join(', ')}) DO NOTHING RETURNING ${keys.join(', ')}) SELECT s.ord::int AS ord FROM s WHERE NOT EXISTS (SELECT 1 FROM i WHERE ${back})`,
    );
  }
  return statement(
    p,
    `WITH ${src.cte}, h AS MATERIALIZED (SELECT s.ord FROM s WHERE EXISTS (SELECT 1 FROM ${shape.target.qualified} t WHERE ${sidCond(shape, sp)}${match(shape, valueRef(shape), false)})), i AS (${insertHead(shape)} SELECT ${vals} FROM s WHERE s.ord NOT IN (SELECT h.ord FROM h)) SELECT h.ord::int AS ord FROM h`,
    shape.keyIndex === 'any',
  );
}

/** History: close the open version of each key (delete: mark it deleted); returns unmatched `ord`s. */
export function closeVersions<R>(
  shape: Shape,
  sid: string,
  ops: PlannedOp<R>[],
  stage = false,
): Statement {
  const p = new Params();
  const sp = sidParamOf(shape, p, sid);
  const src = sourceCte(shape, p, { keys: true, time: true, deleted: true, ops, stage });
  const t = shape.target.qualified;
  const set = 'kvsz_end = s.tm::timestamptz, kvsz_deleted = s.del';
  if (shape.full) {
    return statement(
      p,
      `WITH ${src.cte}, ${locator(shape, sp, src, ` AND t.kvsz_end = ${OPEN}`)}, c AS (UPDATE ${t} t SET ${set} FROM s JOIN l ON l.ord = s.ord WHERE t.tableoid = l.toid AND t.ctid = l.tid RETURNING s.ord) ${MISSING('c')}`,
    );
  }
  return statement(
    p,
    `WITH ${src.cte}, c AS (UPDATE ${t} t SET ${set} FROM s WHERE ${sidCond(shape, sp)}t.kvsz_end = ${OPEN} AND ${match(shape, keyRef, false)} RETURNING s.ord) ${MISSING('c')}`,
    shape.keyIndex !== undefined,
  );
}

/**
 * History, for updates that keep their key and carry every value: close the
 * open version and open the new one in one statement (the INSERT reads the
 * UPDATE's output, so every close happens before any open and the one-open-
 * version index never sees two). Returns the `ord`s that had no open version.
 */
export function closeAndReopen<R>(
  shape: Shape,
  sid: string,
  ops: PlannedOp<R>[],
  stage = false,
): Statement {
  const p = new Params();
  const sp = sidParamOf(shape, p, sid);
  const src = sourceCte(shape, p, { values: true, keys: true, time: true, ops, stage });
  const t = shape.target.qualified;
  const vals = [...(sp ? [sp] : []), ...shape.cols.map((c, i) => cast(`s.v${i}`, c))];
  return statement(
    p,
    `WITH ${src.cte}, c AS (UPDATE ${t} t SET kvsz_end = s.tm::timestamptz FROM s WHERE ${sidCond(shape, sp)}t.kvsz_end = ${OPEN} AND ${match(shape, keyRef, false)} RETURNING s.ord), i AS (${insertHead(shape, ['kvsz_start', 'kvsz_end', 'kvsz_deleted'])} SELECT ${[...vals, 's.tm::timestamptz', OPEN, 'false'].join(', ')} FROM s WHERE s.ord IN (SELECT c.ord FROM c)) ${MISSING('c')}`,
  );
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
  return statement(
    p,
    `WITH ${src.cte}, p AS MATERIALIZED (SELECT s.ord, ${probe} AS last_end${prevCols} FROM s${prev}), i AS (${insertHead(shape, ['kvsz_start', 'kvsz_end', 'kvsz_deleted'])} SELECT ${[...(sp ? [sp] : []), vals, start, OPEN, 'false'].join(', ')} FROM s JOIN p ON p.ord = s.ord WHERE p.last_end IS DISTINCT FROM ${OPEN} AND ${materializable}) SELECT s.ord::int AS ord, (p.last_end IS NOT DISTINCT FROM ${OPEN}) AS conflict FROM s JOIN p ON p.ord = s.ord WHERE p.last_end IS NOT DISTINCT FROM ${OPEN} OR NOT ${materializable}`,
  );
}

/**
 * History inserts, before they are copied in: the keys that already have
 * versions, as `{ ord, conflict }` (`conflict`: one is open, the insert is
 * refused; otherwise the key had versions and the new one starts at the
 * change's time instead of 1900-01-01). Keys never seen return nothing.
 *
 * New rows usually get new keys from a sequence, above every key the target
 * holds. With one ordered key and a full index led by it (see `rangeKey`),
 * one index probe over the batch's key range answers for the whole batch
 * when nothing is there, instead of one probe per key. Measured on a
 * 500,000-version target: a 3,000-key probe took 8.2 to 9.3 ms instead of
 * 10.3 to 12.6 (round trip, most of it parsing the keys); in the apply
 * bench, the destination's CPU for 500,000 history inserts went from 2.8 to
 * 3.0 s to 2.7 to 2.8 s.
 */
export function probeVersions<R>(shape: Shape, sid: string, ops: PlannedOp<R>[]): Statement {
  const p = new Params();
  const sp = sidParamOf(shape, p, sid);
  const src = sourceCte(shape, p, { keyValues: true, ops });
  const t = shape.target.qualified;
  const last = `(SELECT max(t.kvsz_end) FROM ${t} t WHERE ${sidCond(shape, sp)}${match(shape, valueRef(shape), false)})`;
  const rk = rangeKey(shape);
  let gate = '';
  let where = '';
  if (rk) {
    const v = cast(valueRef(shape)(0), rk);
    gate = `, r AS (SELECT EXISTS (SELECT 1 FROM ${t} t WHERE ${sidCond(shape, sp)}t.${id(rk.name)} BETWEEN (SELECT ${v} FROM s ORDER BY 1 LIMIT 1) AND (SELECT ${v} FROM s ORDER BY 1 DESC NULLS LAST LIMIT 1)) AS hit)`;
    where = ' WHERE (SELECT r.hit FROM r)';
  }
  return statement(
    p,
    `WITH ${src.cte}${gate}, p AS (SELECT s.ord, ${last} AS last_end FROM s${where}) SELECT p.ord::int AS ord, (p.last_end = ${OPEN}) AS conflict FROM p WHERE p.last_end IS NOT NULL`,
  );
}

/**
 * Key types without a collation, whose `ORDER BY` order is their btree
 * index order: int2, int4, int8, oid, numeric, date, timestamp,
 * timestamptz, uuid. (A collated key could sort differently in the
 * statement than in the index, and a batch's range would miss keys.)
 */
const RANGE_TYPES = new Set([21, 23, 20, 26, 1700, 1082, 1114, 1184, 2950]);

/**
 * The key column, when a batch's keys can be checked as one range: a single
 * key column of a `RANGE_TYPES` type, and a btree index that holds closed
 * versions too (not the open-version partial one) led by `sid` (when the
 * target has it) then that column, so the range is one index scan that
 * never wades through other sids' rows.
 */
function rangeKey(shape: Shape): Shape['cols'][number] | undefined {
  if (shape.full || shape.keyCols.length !== 1) return undefined;
  const k = shape.cols[shape.keyCols[0]!]!;
  if (!k.eq || !RANGE_TYPES.has(k.typeOid)) return undefined;
  const lead = shape.target.sid ? ['sid', k.name] : [k.name];
  const indexed = shape.target.indexes.some(
    (ix) => !ix.open && lead.every((c, i) => ix.columns[i] === c),
  );
  return indexed ? k : undefined;
}

/** TRUNCATE of a source table: clone removes that sid's rows; history closes its open versions. */
export function truncateRows(target: Shape['target'], sid: string, time: string): Statement {
  const p = new Params();
  const t = target.qualified;
  if (target.type === 'history') {
    const tm = p.add(time, 'timestamptz');
    const cond = target.sid ? `sid = ${p.add(sid, target.sid.type)} AND ` : '';
    return statement(
      p,
      `UPDATE ${t} SET kvsz_end = ${tm}, kvsz_deleted = true WHERE ${cond}kvsz_end = ${OPEN}`,
    );
  }
  if (!target.sid) return { text: `TRUNCATE ${t}`, values: [] };
  return { text: `DELETE FROM ${t} WHERE sid = ${p.add(sid, target.sid.type)}`, values: p.values };
}
