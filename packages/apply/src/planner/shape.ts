import type { ChangeTuple, SourceRelation } from '../change.js';
import { UNCHANGED } from '../change.js';
import { ApplyError } from '../errors.js';
import { HISTORY_COLUMNS } from '../target/target-ddl.js';
import type { TargetColumn, TargetInfo } from '../target/target-meta.js';

export interface ShapeColumn extends TargetColumn {
  /** Index of the column in the source tuple. */
  src: number;
  /** The source column's type OID and modifier (a target of another type may refuse its values). */
  sourceTypeOid: number;
  sourceTypeModifier: number;
}

/**
 * How one source relation (as last described by the stream) lands in one
 * target: the shared columns (by name), and the ones that locate a row.
 */
export interface Shape {
  target: TargetInfo;
  /** Source columns that the target has (not generated, not sid / kvsz_*). */
  cols: ShapeColumn[];
  /** Positions in `cols` used to match rows: the source key columns, or all under FULL. */
  keyCols: number[];
  /** REPLICA IDENTITY FULL: match on every shared column, one row at a time. */
  full: boolean;
  /**
   * A unique index of the target on exactly (sid, key columns): inserts use
   * it as their ON CONFLICT arbiter instead of probing first.
   */
  arbiter: string[] | undefined;
  /**
   * A btree index of the target leads with the key columns (and sid), all
   * compared with `=`: lookups by key are index probes, so statements joining
   * a batch to the target are forced to nested loops (the planner otherwise
   * prefers hashing the whole target once a batch has a few thousand rows).
   * `open`: only a partial index on open history versions (it serves the
   * lookups of open versions).
   */
  keyIndex: 'any' | 'open' | undefined;
  /** An inserted column is GENERATED ALWAYS AS IDENTITY. */
  overriding: boolean;
  /**
   * Every column has the source column's built-in type in the target:
   * binary-mode rows can go into a `COPY ... (FORMAT binary)` as they are
   * (with `sid`, if any, in its column's format: see `sidBinary`).
   */
  binaryCopy: boolean;
  /** Stable signature: changes of one shape share statements. */
  signature: string;
  /** Source columns the target does not have: left out (reported once per table, see the router). */
  ignored: string[];
}

const RESERVED = new Set<string>(['sid', ...HISTORY_COLUMNS]);

/**
 * Types below PostgreSQL's FirstNormalObjectId are built in: the same OID is
 * the same type, with the same binary format, in every database. User types
 * (enums, domains, composites) have their own OIDs per database.
 */
const FIRST_NORMAL_OID = 16384;
/**
 * The `sid` text in the binary format of the target's sid column type
 * (bigint, int, smallint, text or varchar); undefined for other types and
 * values that do not fit.
 */
export function sidBinary(sid: string, typeOid: number): Uint8Array | undefined {
  if (typeOid === 25 || typeOid === 1043) return Buffer.from(sid, 'utf8');
  if (!/^-?\d{1,19}$/.test(sid)) return undefined;
  const n = BigInt(sid);
  const width = typeOid === 20 ? 8 : typeOid === 23 ? 4 : typeOid === 21 ? 2 : 0;
  if (width === 0 || n !== BigInt.asIntN(width * 8, n)) return undefined;
  const out = Buffer.alloc(width);
  if (width === 8) out.writeBigInt64BE(n);
  else if (width === 4) out.writeInt32BE(Number(n));
  else out.writeInt16BE(Number(n));
  return out;
}

export function resolveShape(relation: SourceRelation, target: TargetInfo): Shape {
  const cols: ShapeColumn[] = [];
  const ignored: string[] = [];
  relation.columns.forEach((c, src) => {
    if (RESERVED.has(c.name)) return;
    const t = target.columns.get(c.name);
    if (!t) ignored.push(c.name);
    if (!t || t.generated) return;
    cols.push({ ...t, src, sourceTypeOid: c.typeOid, sourceTypeModifier: c.typeModifier ?? -1 });
  });
  if (cols.length === 0) {
    throw new ApplyError(
      'unmappable_change',
      `source table ${relation.schema}.${relation.table} shares no column with target ${target.display}; columns are matched by name`,
      { table: target.display },
    );
  }
  const full = relation.replicaIdentity === 'full';
  const keyCols: number[] = [];
  cols.forEach((c, i) => {
    if (full || relation.columns[c.src]?.isKey) keyCols.push(i);
  });
  let arbiter: string[] | undefined;
  if (!full && keyCols.length > 0) {
    const want = [...(target.sid ? ['sid'] : []), ...keyCols.map((i) => cols[i]!.name)].sort();
    const match = target.uniqueKeys.find(
      (u) => u.length === want.length && [...u].sort().every((c, i) => c === want[i]),
    );
    if (match) arbiter = match;
  }
  return {
    target,
    cols,
    keyCols,
    full,
    arbiter,
    keyIndex: full ? undefined : keyIndexOf(target, cols, keyCols),
    overriding: cols.some((c) => c.identityAlways),
    binaryCopy: cols.every((c) => c.typeOid === c.sourceTypeOid && c.typeOid < FIRST_NORMAL_OID),
    signature: `${relation.replicaIdentity}|${cols.map((c) => `${c.src}:${c.name}`).join(',')}|${keyCols.join(',')}`,
    ignored,
  };
}

function keyIndexOf(target: TargetInfo, cols: ShapeColumn[], keyCols: number[]): Shape['keyIndex'] {
  if (keyCols.length === 0 || !keyCols.every((i) => cols[i]!.eq)) return undefined;
  const keys = keyCols.map((i) => cols[i]!.name);
  const usable = new Set([...(target.sid ? ['sid'] : []), ...keys]);
  let found: Shape['keyIndex'];
  for (const ix of target.indexes) {
    // The index's leading run of key (and sid) columns must hold every key column.
    let n = 0;
    while (n < ix.columns.length && usable.has(ix.columns[n]!)) n++;
    const lead = new Set(ix.columns.slice(0, n));
    if (!keys.every((k) => lead.has(k))) continue;
    if (!ix.open) return 'any';
    found = 'open';
  }
  return found;
}

/** Raises the error for an update / delete that has nothing to locate its row with. */
export function requireKey(shape: Shape, relation: SourceRelation): void {
  if (shape.keyCols.length > 0) return;
  throw new ApplyError(
    'unmappable_change',
    `target ${shape.target.display} holds none of the replica identity columns of ${relation.schema}.${relation.table} (${
      relation.columns
        .filter((c) => c.isKey)
        .map((c) => c.name)
        .join(', ') || 'none'
    }); updates and deletes cannot be located: add the key columns to the target or set REPLICA IDENTITY FULL on the source`,
    { table: shape.target.display },
  );
}

const MAX_VALUE = 64;

/** `col=value, ...` for logs and errors: the key only, never the whole row. */
export function describeKey(shape: Shape, tuple: ChangeTuple | undefined): string {
  if (!tuple) return '(no key)';
  let idx = shape.keyCols;
  if (shape.full) {
    // Under FULL every column is "key": name the row by the target's primary key when it has one.
    const pk = shape.target.primaryKey;
    const byPk = shape.cols.map((c, i) => (pk.includes(c.name) ? i : -1)).filter((i) => i >= 0);
    idx = byPk.length > 0 ? byPk : shape.keyCols.slice(0, 1);
  }
  return idx
    .map((i) => {
      const c = shape.cols[i]!;
      const v = tuple[c.src];
      const text =
        v === null || v === undefined
          ? 'NULL'
          : v === UNCHANGED
            ? '(unchanged toast)'
            : v.length > MAX_VALUE
              ? `'${v.slice(0, MAX_VALUE)}...'`
              : `'${v}'`;
      return `${c.name}=${text}`;
    })
    .join(', ');
}
