import type { PgCluster } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import { nestedLoopSql, PREPARED_MAX_ROWS } from '../src/executor/destination-tx.js';
import type { PlannedOp } from '../src/planner/plan-units.js';
import { resolveShape } from '../src/planner/shape.js';
import { inlineParams } from '../src/planner/sql-literal.js';
import {
  closeVersions,
  deleteRows,
  insertRows,
  type Statement,
  updateOrInsertRows,
  updateRows,
} from '../src/planner/statements.js';
import { loadTargetInfo } from '../src/target/target-meta.js';
import { rel } from './helpers.js';

/**
 * Multi-tenant consolidation: a new tenant's rows are copied into a shared
 * table whose statistics know only the other tenants (autovacuum's ANALYZE
 * may be minutes away). Every statement must still find each change's row
 * through the key index, one probe per change: estimated from the new sid's
 * value (one row), the planner scanned all of that tenant's rows once per
 * change instead (85 s for 3,000 updates after a 200,000-row copy). The
 * outcome checked is the plan the destination ran: the target is read only by
 * index probes, at most one row per probe.
 */
const NEW_ROWS = 50_000;
const BATCH = 500;

/** The shared tables, other tenants analyzed, the new tenant `t1` copied after that. */
async function newTenant(c: PgCluster, db: string): Promise<void> {
  await c.sql(
    `CREATE TABLE inv (sid text NOT NULL, id int NOT NULL, status text, PRIMARY KEY (sid, id)) WITH (autovacuum_enabled = off);
     CREATE TABLE inv_h (sid text NOT NULL, id int NOT NULL, status text,
       kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL, kvsz_deleted boolean NOT NULL DEFAULT false,
       PRIMARY KEY (sid, id, kvsz_start)) WITH (autovacuum_enabled = off);
     CREATE UNIQUE INDEX inv_h_open ON inv_h (sid, id) WHERE kvsz_end = '9999-01-01 00:00:00+00';
     INSERT INTO inv SELECT s, g, 'old' FROM generate_series(1, 2000) g, unnest(array['t2', 't3']) s;
     INSERT INTO inv_h SELECT s, g, 'old', '1900-01-01', '9999-01-01 00:00:00+00' FROM generate_series(1, 2000) g, unnest(array['t2', 't3']) s;
     ANALYZE inv; ANALYZE inv_h;
     INSERT INTO inv SELECT 't1', g, 'copied' FROM generate_series(1, ${NEW_ROWS}) g;
     INSERT INTO inv_h SELECT 't1', g, 'copied', '1900-01-01', '9999-01-01 00:00:00+00' FROM generate_series(1, ${NEW_ROWS}) g;`,
    [],
    db,
  );
}

type Client = Awaited<ReturnType<PgCluster['connect']>>;

/** The engine's statements for a batch of `batch` changes of `t1`, by name. */
async function statementsFor(client: Client, batch: number): Promise<[string, Statement][]> {
  const source = rel('inv', [['id', true], 'status']);
  const ids = Array.from({ length: batch }, (_, i) => String(1 + i * 97));
  const ops = (kind: PlannedOp<number>['kind']): PlannedOp<number>[] =>
    ids.map((id, i) => ({
      kind,
      newT: kind === 'delete' ? undefined : [id, 'new'],
      whereT: kind === 'insert' ? undefined : [id, null],
      keyChanged: false,
      seq: i,
      time: '2024-01-01 00:00:00+00',
      quiet: false,
      refs: [i],
    }));
  const shapeOf = async (table: string, type: 'clone' | 'history') => {
    const { info } = await loadTargetInfo(client, { schema: 'public', table }, type);
    if (!info) throw new Error(`no target ${table}`);
    return resolveShape({ ...source, table }, info);
  };
  const clone = await shapeOf('inv', 'clone');
  const history = await shapeOf('inv_h', 'history');
  return [
    ['update', updateRows(clone, 't1', ops('update'))],
    ['update or insert', updateOrInsertRows(clone, 't1', ops('update'))],
    ['delete', deleteRows(clone, 't1', ops('delete'))],
    ['insert probe', insertRows({ ...clone, arbiter: undefined }, 't1', ops('insert'), true)],
    ['history close', closeVersions(history, 't1', ops('delete'))],
  ];
}

function expectProbes(name: string, scans: Scan[], batch: number): void {
  expect(scans.length, `${name}: the target is read`).toBeGreaterThan(0);
  for (const s of scans) {
    expect(s.node, `${name}: ${JSON.stringify(s)}`).toMatch(/Index/);
    expect(s.loops, `${name}: one probe per change`).toBe(batch);
    expect(s.rows, `${name}: each probe finds its row`).toBeLessThanOrEqual(1);
  }
}

for (const version of [14, 17] as const) {
  describe(`a new tenant in a shared table (PG ${version})`, () => {
    const pgc = useCluster({ version });

    test('every lookup of the target is an index probe per change', async () => {
      const c = pgc.get();
      const db = await c.createDatabase(`plans_${version}`);
      await newTenant(c, db);
      const client = await c.connect(db);
      try {
        for (const [name, st] of await statementsFor(client, BATCH))
          expectProbes(name, await targetScans(client, st), BATCH);
      } finally {
        await client.end();
      }
    });

    test('as prepared statements (small batches, generic plans) too', async () => {
      const c = pgc.get();
      const db = await c.createDatabase(`generic_${version}`);
      await newTenant(c, db);
      const small = 100;
      expect(small).toBeLessThanOrEqual(PREPARED_MAX_ROWS);
      const client = await c.connect(db);
      try {
        for (const [i, [name, st]] of (await statementsFor(client, small)).entries())
          expectProbes(name, await genericScans(client, `p${i}`, st), small);
      } finally {
        await client.end();
      }
    });
  });
}

/**
 * The scans of the target tables in the plan that prepared statement `name`
 * (made on first use) ran, with the engine's settings for it (rolled back).
 */
async function genericScans(client: Client, name: string, st: Statement): Promise<Scan[]> {
  await client.query('BEGIN');
  try {
    await client.query(nestedLoopSql(true));
    const prepared = await client.query('SELECT 1 FROM pg_prepared_statements WHERE name = $1', [
      name,
    ]);
    if (prepared.rowCount === 0) await client.query(`PREPARE ${name} AS ${st.text}`);
    const args = st.values.map((_, i) => `$${i + 1}`).join(', ');
    const r = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
      inlineParams(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE ${name}(${args})`, st.values),
    );
    return scansOf(r.rows[0]!['QUERY PLAN'][0].Plan);
  } finally {
    await client.query('ROLLBACK');
  }
}

function scansOf(plan: PlanNode): Scan[] {
  const scans: Scan[] = [];
  const walk = (n: PlanNode) => {
    if (n['Relation Name']?.startsWith('inv') && n['Node Type'] !== 'ModifyTable') {
      scans.push({ node: n['Node Type'], loops: n['Actual Loops'], rows: n['Actual Rows'] });
    }
    for (const p of n.Plans ?? []) walk(p);
  };
  walk(plan);
  return scans;
}

interface Scan {
  node: string;
  loops: number;
  rows: number;
}

/** The scans of the target tables in the plan the destination ran (rolled back). */
async function targetScans(client: Client, st: Statement): Promise<Scan[]> {
  await client.query('BEGIN');
  try {
    if (st.nestedLoop) await client.query(nestedLoopSql(false));
    const r = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${st.text}`,
      st.values,
    );
    return scansOf(r.rows[0]!['QUERY PLAN'][0].Plan);
  } finally {
    await client.query('ROLLBACK');
  }
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Loops': number;
  'Actual Rows': number;
  Plans?: PlanNode[];
}
