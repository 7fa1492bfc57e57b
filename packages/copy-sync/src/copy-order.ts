import {
  linkTables,
  loadForeignKeys,
  qualifiedName,
  type SqlClient,
  type TableRef,
} from '@kuvasz/core';

/**
 * The order foreign keys in the destination impose on a run's copies: a
 * table referenced by another is copied (every chunk committed) before the
 * copy of the table that references it starts, as pg_restore orders its
 * data; a table referencing itself is copied in one chunk, one COPY whose
 * constraint checks run at its end. Tables that reference each other in a
 * cycle cannot be ordered: they are copied as before, and a NOT DEFERRABLE
 * foreign key between them may refuse a chunk (the error names it).
 */
export interface CopyOrder {
  /** Per table (index in the run's list), the tables it must wait for. */
  parents: number[][];
  /** Tables that reference themselves. */
  selfReferencing: Set<number>;
}

/** Chunk size for a table copied in one chunk: the largest `chunk_pages` the metadata holds. */
export const ONE_CHUNK_PAGES = 2 ** 31 - 1;

export async function copyOrder(client: SqlClient, targets: TableRef[]): Promise<CopyOrder> {
  const none: CopyOrder = { parents: targets.map(() => []), selfReferencing: new Set() };
  if (targets.length === 0) return none;
  const res = await client.query(
    `SELECT t.i::int AS i, to_regclass(t.name)::oid::int AS oid
       FROM unnest($1::text[]) WITH ORDINALITY AS t(name, i)`,
    [targets.map((t) => qualifiedName(t))],
  );
  const byOid = new Map<number, number[]>();
  for (const r of res.rows) {
    if (r.oid === null) continue;
    const oid = Number(r.oid);
    const list = byOid.get(oid) ?? [];
    list.push(Number(r.i) - 1);
    byOid.set(oid, list);
  }
  const edges = await loadForeignKeys(client, [...byOid.keys()]);
  if (edges.length === 0) return none;
  const nodes = targets.map((_, i) => i);
  const pairs: { child: number; parent: number }[] = [];
  for (const e of edges)
    for (const child of byOid.get(e.child) ?? [])
      for (const parent of byOid.get(e.parent) ?? []) pairs.push({ child, parent });
  const links = linkTables(nodes, pairs);
  const out: CopyOrder = { parents: targets.map(() => []), selfReferencing: new Set() };
  for (const [i, l] of links) {
    for (const [j, link] of l.related) {
      if (link === 'parent') out.parents[i]!.push(j);
      if (link === 'self') out.selfReferencing.add(i);
    }
  }
  return out;
}
