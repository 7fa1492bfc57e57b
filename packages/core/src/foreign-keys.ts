import type { SqlClient } from './metadata-schema.js';

/**
 * Foreign keys between the tables a run writes, as an ordering: apply keeps
 * a group's statements in an order the constraints accept, copy-sync copies
 * referenced tables before the tables that reference them.
 *
 * What another table is to this one: `parent` (this one references it),
 * `child` (it references this one), `self` (this one references itself),
 * `cycle` (they reference each other, directly or through other tables).
 */
export type Link = 'parent' | 'child' | 'self' | 'cycle';

export interface TableLinks<T> {
  /** Topological rank: referenced tables have lower ranks than the tables referencing them. */
  rank: number;
  related: Map<T, Link>;
}

/** A table with no foreign key to or from another of the run's tables. */
export const NO_LINKS: TableLinks<never> = { rank: 0, related: new Map<never, Link>() };

/** Foreign keys between the given tables (by OID): child -> parent edges. */
export async function loadForeignKeys(
  client: SqlClient,
  oids: number[],
): Promise<{ child: number; parent: number }[]> {
  if (oids.length === 0) return [];
  const res = await client.query(
    `SELECT DISTINCT conrelid::int AS child, confrelid::int AS parent
       FROM pg_constraint
      WHERE contype = 'f' AND conrelid = ANY($1::oid[]) AND confrelid = ANY($1::oid[])`,
    [oids],
  );
  return res.rows.map((r) => ({ child: Number(r.child), parent: Number(r.parent) }));
}

/**
 * The links of every node from child -> parent edges: strongly connected
 * components (Tarjan) become `cycle`s, the rest is ranked parents first.
 * Pure; `nodes` fixes the order of equal ranks.
 */
export function linkTables<T>(
  nodes: readonly T[],
  edges: readonly { child: T; parent: T }[],
): Map<T, TableLinks<T>> {
  const parents = new Map<T, Set<T>>(nodes.map((n) => [n, new Set()]));
  for (const e of edges) parents.get(e.child)?.add(e.parent);
  // Tarjan's strongly connected components, iterative over the parent edges.
  const index = new Map<T, number>();
  const low = new Map<T, number>();
  const onStack = new Set<T>();
  const stack: T[] = [];
  const component = new Map<T, number>();
  const components: T[][] = [];
  let counter = 0;
  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: { node: T; it: Iterator<T> }[] = [];
    const enter = (n: T) => {
      index.set(n, counter);
      low.set(n, counter);
      counter++;
      stack.push(n);
      onStack.add(n);
      work.push({ node: n, it: parents.get(n)![Symbol.iterator]() });
    };
    enter(root);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const step = top.it.next();
      if (!step.done) {
        const p = step.value;
        if (!index.has(p)) enter(p);
        else if (onStack.has(p)) low.set(top.node, Math.min(low.get(top.node)!, index.get(p)!));
        continue;
      }
      work.pop();
      const parentFrame = work[work.length - 1];
      if (parentFrame)
        low.set(parentFrame.node, Math.min(low.get(parentFrame.node)!, low.get(top.node)!));
      if (low.get(top.node) === index.get(top.node)) {
        const members: T[] = [];
        let m: T;
        do {
          m = stack.pop()!;
          onStack.delete(m);
          component.set(m, components.length);
          members.push(m);
        } while (m !== top.node);
        components.push(members);
      }
    }
  }
  // Tarjan emits a component after every component it reaches (its parents): that is the rank.
  const out = new Map<T, TableLinks<T>>();
  for (const n of nodes) out.set(n, { rank: component.get(n)!, related: new Map() });
  for (const e of edges) {
    const c = out.get(e.child);
    const p = out.get(e.parent);
    if (!c || !p) continue;
    if (e.child === e.parent) {
      if (components[component.get(e.child)!]!.length === 1) c.related.set(e.child, 'self');
      continue;
    }
    if (component.get(e.child) === component.get(e.parent)) {
      c.related.set(e.parent, 'cycle');
      p.related.set(e.child, 'cycle');
    } else {
      if (c.related.get(e.parent) !== 'cycle') c.related.set(e.parent, 'parent');
      if (p.related.get(e.child) !== 'cycle') p.related.set(e.child, 'child');
    }
  }
  // A table in a cycle with others is related to every member, itself included.
  for (const members of components) {
    if (members.length < 2) continue;
    for (const a of members) for (const b of members) out.get(a)!.related.set(b, 'cycle');
  }
  return out;
}
