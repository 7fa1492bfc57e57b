import type { Queryable } from './describe-table.js';

interface TypeRow {
  oid: number;
  typtype: string;
  basetype: number;
  elem: number;
  is_array: boolean;
  relid: number;
  rngsubtype: number | null;
  has_btree: boolean;
}

/**
 * Which types can be matched with `=` in a WHERE clause: those with a
 * default btree operator class (directly or through a binary-coercible type,
 * like varchar through text), arrays and domains of such types, enums, and
 * composites whose every field qualifies. The others (json, xml, point,
 * polygon, box, circle, ...) are compared through their text form. Box and
 * circle have an `=` operator that compares areas, which is why the test is
 * the btree opclass and not the operator.
 */
export async function loadEqualityByType(
  client: Queryable,
  typeOids: Iterable<number>,
): Promise<Map<number, boolean>> {
  const rows = new Map<number, TypeRow>();
  let pending = [...new Set(typeOids)];
  while (pending.length > 0) {
    const res = await client.query<TypeRow>(
      `SELECT t.oid::int AS oid, t.typtype::text AS typtype, t.typbasetype::int AS basetype,
              t.typelem::int AS elem, (t.typcategory = 'A' AND t.typlen = -1) AS is_array,
              t.typrelid::int AS relid, r.rngsubtype::int AS rngsubtype,
              EXISTS (
                SELECT 1 FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod
                 WHERE am.amname = 'btree' AND oc.opcdefault
                   AND (oc.opcintype = t.oid OR EXISTS (
                         SELECT 1 FROM pg_cast k
                          WHERE k.castsource = t.oid AND k.casttarget = oc.opcintype
                            AND k.castmethod = 'b' AND k.castcontext = 'i'))
              ) AS has_btree
         FROM pg_type t LEFT JOIN pg_range r ON r.rngtypid = t.oid
        WHERE t.oid = ANY($1::oid[])`,
      [pending],
    );
    const next: number[] = [];
    for (const row of res.rows) {
      rows.set(row.oid, row);
      const deps: number[] = [];
      if (row.typtype === 'd') deps.push(row.basetype);
      if (row.is_array && row.elem !== 0) deps.push(row.elem);
      if (row.rngsubtype !== null) deps.push(row.rngsubtype);
      if (row.typtype === 'c' && row.relid !== 0) {
        const attrs = await client.query<{ t: number }>(
          `SELECT atttypid::int AS t FROM pg_attribute
            WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`,
          [row.relid],
        );
        for (const a of attrs.rows) deps.push(a.t);
        (row as TypeRow & { fields?: number[] }).fields = attrs.rows.map((a) => a.t);
      }
      for (const d of deps) if (!rows.has(d) && !next.includes(d)) next.push(d);
    }
    pending = next.filter((o) => !rows.has(o));
  }
  const memo = new Map<number, boolean>();
  const visit = (oid: number, depth: number): boolean => {
    const known = memo.get(oid);
    if (known !== undefined) return known;
    const row = rows.get(oid);
    if (!row || depth > 20) return false;
    let ok: boolean;
    if (row.typtype === 'd') ok = visit(row.basetype, depth + 1);
    else if (row.typtype === 'e') ok = true;
    else if (row.is_array && row.elem !== 0) ok = visit(row.elem, depth + 1);
    else if (row.typtype === 'r' && row.rngsubtype !== null) ok = visit(row.rngsubtype, depth + 1);
    else if (row.typtype === 'c') {
      const fields = (row as TypeRow & { fields?: number[] }).fields ?? [];
      ok = fields.every((f) => visit(f, depth + 1));
    } else ok = row.has_btree;
    memo.set(oid, ok);
    return ok;
  };
  const out = new Map<number, boolean>();
  for (const oid of typeOids) out.set(oid, visit(oid, 0));
  return out;
}
