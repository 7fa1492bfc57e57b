/**
 * Statement forms side by side (one connection, forms interleaved, each
 * batch in its own transaction): how one batch of N rows is fastest written
 * on PG 14 and 17. Not part of `pnpm bench`; run after bundling like bench.ts:
 *   node bench/dist/statement-forms.mjs
 * Env: KUVASZ_BENCH_ROWS (rows per statement, 10,000), KUVASZ_BENCH_TABLE
 * (rows in the table before the update / delete forms, 500,000),
 * KUVASZ_BENCH_REPS (6), KUVASZ_BENCH_VERSIONS ("17,14").
 */
import { startPostgres } from '@kuvasz/testkit';
import pg from 'pg';
import { copyIn } from '../src/executor/copy-in.js';
import { CopyPayload } from '../src/planner/copy-payload.js';
import type { PlannedOp } from '../src/planner/plan-units.js';
import { resolveShape } from '../src/planner/shape.js';
import { arrayLiteral, deleteRows, insertRows, updateRows } from '../src/planner/statements.js';
import { loadTargetInfo } from '../src/target/target-meta.js';
import { benchRelation, benchRow, envNumber } from './forms-fixture.js';

const env = envNumber;
const ROWS = env('KUVASZ_BENCH_ROWS', 10_000);
const TABLE_ROWS = env('KUVASZ_BENCH_TABLE', 500_000);
const REPS = env('KUVASZ_BENCH_REPS', 6);
const VERSIONS = (process.env.KUVASZ_BENCH_VERSIONS ?? '17,14').split(',').map(Number);

const rel = benchRelation('t');
const row = benchRow;

type Form = (c: pg.PoolClient, ids: number[], salt: number) => Promise<void>;

async function tx(c: pg.PoolClient, f: () => Promise<unknown>): Promise<void> {
  await c.query('BEGIN');
  await f();
  await c.query('COMMIT');
}

function payload(rows: (string | null)[][]): Buffer[] {
  const p = new CopyPayload();
  for (const r of rows) p.row(r);
  return p.take();
}

async function main(): Promise<void> {
  for (const version of VERSIONS) {
    const cluster = await startPostgres({
      version: version as 14 | 17,
      settings: { shared_buffers: '256MB', max_wal_size: '8GB' },
    });
    try {
      const db = await cluster.createDatabase();
      await cluster.sql(
        'CREATE TABLE t (id int PRIMARY KEY, a int NOT NULL, b text, c timestamptz)',
        [],
        db,
      );
      const pool = new pg.Pool({ connectionString: cluster.urlFor(db), max: 2 });
      pool.on('error', () => {});
      const c = await pool.connect();
      const info = (await loadTargetInfo(c, { schema: 'public', table: 't' }, 'clone')).info!;
      const shape = resolveShape(rel, info);
      const ops = (ids: number[], salt: number, kind: 'insert' | 'update' | 'delete') =>
        ids.map(
          (id): PlannedOp<number> => ({
            kind,
            newT: kind === 'delete' ? undefined : row(id, salt),
            whereT: kind === 'insert' ? undefined : [String(id), null, null, null],
            keyChanged: false,
            time: '2026-11-22 10:00:00+00',
            quiet: false,
            refs: [id],
            seq: id,
          }),
        );
      await c.query(`CREATE TEMP TABLE st_text (ord int, v0 text, v1 text, v2 text, v3 text, k0 text)
        ON COMMIT DELETE ROWS`);
      await c.query(`CREATE TEMP TABLE st_typed (ord int, v0 int, v1 int, v2 text, v3 timestamptz, k0 int)
        ON COMMIT DELETE ROWS`);
      const stage = (table: string, ids: number[], salt: number, withValues: boolean) =>
        copyIn(
          c,
          `COPY ${table} (ord, ${withValues ? 'v0, v1, v2, v3, ' : ''}k0) FROM STDIN`,
          payload(
            ids.map((id, i) => [String(i + 1), ...(withValues ? row(id, salt) : []), String(id)]),
          ),
        );
      const inserts: Record<string, Form> = {
        unnest: (cl, ids, s) =>
          tx(cl, () => {
            const st = insertRows(shape, '1', ops(ids, s, 'insert'), false);
            return cl.query(st.text, st.values);
          }),
        copy: (cl, ids, s) =>
          tx(cl, () =>
            copyIn(cl, 'COPY t (id, a, b, c) FROM STDIN', payload(ids.map((id) => row(id, s)))),
          ),
        'copy-savepoint': (cl, ids, s) =>
          tx(cl, async () => {
            await cl.query('SAVEPOINT x');
            await copyIn(
              cl,
              'COPY t (id, a, b, c) FROM STDIN',
              payload(ids.map((id) => row(id, s))),
            );
            await cl.query('RELEASE SAVEPOINT x');
          }),
        'unnest-typed': (cl, ids, s) =>
          tx(cl, async () => {
            const rows = ids.map((id) => row(id, s));
            const col = (j: number) => arrayLiteral(rows.map((r) => r[j]));
            return cl.query(
              'INSERT INTO t (id, a, b, c) SELECT * FROM unnest($1::integer[], $2::integer[], $3::text[], $4::timestamptz[])',
              [col(0), col(1), col(2), col(3)],
            );
          }),
      };
      const nl = (cl: pg.PoolClient) =>
        cl.query('SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off');
      const updates: Record<string, Form> = {
        unnest: (cl, ids, s) =>
          tx(cl, () => {
            const st = updateRows(shape, '1', ops(ids, s, 'update'));
            return cl.query(st.text, st.values);
          }),
        'unnest-nl': (cl, ids, s) =>
          tx(cl, async () => {
            await nl(cl);
            const st = updateRows(shape, '1', ops(ids, s, 'update'));
            return cl.query(st.text, st.values);
          }),
        'unnest-typed-nl': (cl, ids, s) =>
          tx(cl, async () => {
            await nl(cl);
            const rows = ids.map((id) => row(id, s));
            const col = (j: number) => arrayLiteral(rows.map((r) => r[j]));
            return cl.query(
              `WITH s AS MATERIALIZED (SELECT * FROM unnest($1::integer[], $2::integer[], $3::text[], $4::timestamptz[], $5::integer[]) WITH ORDINALITY AS s(v0, v1, v2, v3, k0, ord)),
               u AS (UPDATE t SET id = s.v0, a = s.v1, b = s.v2, c = s.v3 FROM s WHERE t.id = s.k0 RETURNING s.ord)
               SELECT s.ord FROM s WHERE s.ord NOT IN (SELECT ord FROM u)`,
              [col(0), col(1), col(2), col(3), arrayLiteral(ids)],
            );
          }),
        'stage-text-nl': (cl, ids, s) =>
          tx(cl, async () => {
            await nl(cl);
            await stage('st_text', ids, s, true);
            await cl.query(
              `WITH u AS (UPDATE t SET id = s.v0::integer, a = s.v1::integer, b = s.v2::text, c = s.v3::timestamptz
                FROM st_text s WHERE t.id = s.k0::integer RETURNING s.ord)
               SELECT s.ord FROM st_text s WHERE s.ord NOT IN (SELECT ord FROM u)`,
            );
          }),
        'stage-typed-nl': (cl, ids, s) =>
          tx(cl, async () => {
            await nl(cl);
            await stage('st_typed', ids, s, true);
            await cl.query(
              `WITH s AS MATERIALIZED (SELECT * FROM st_typed), u AS (UPDATE t SET id = s.v0, a = s.v1, b = s.v2, c = s.v3
                FROM s WHERE t.id = s.k0 RETURNING s.ord)
               SELECT s.ord FROM s WHERE s.ord NOT IN (SELECT ord FROM u)`,
            );
          }),
        'stage-text': (cl, ids, s) =>
          tx(cl, async () => {
            await stage('st_text', ids, s, true);
            await cl.query(
              `WITH u AS (UPDATE t SET id = s.v0::integer, a = s.v1::integer, b = s.v2::text, c = s.v3::timestamptz
                FROM st_text s WHERE t.id = s.k0::integer RETURNING s.ord)
               SELECT s.ord FROM st_text s WHERE s.ord NOT IN (SELECT ord FROM u)`,
            );
          }),
        'stage-typed': (cl, ids, s) =>
          tx(cl, async () => {
            await stage('st_typed', ids, s, true);
            await cl.query(
              `WITH u AS (UPDATE t SET id = s.v0, a = s.v1, b = s.v2, c = s.v3
                FROM st_typed s WHERE t.id = s.k0 RETURNING s.ord)
               SELECT s.ord FROM st_typed s WHERE s.ord NOT IN (SELECT ord FROM u)`,
            );
          }),
      };
      const deletes: Record<string, Form> = {
        unnest: (cl, ids) =>
          tx(cl, () => {
            const st = deleteRows(shape, '1', ops(ids, 0, 'delete'));
            return cl.query(st.text, st.values);
          }),
        'unnest-nl': (cl, ids) =>
          tx(cl, async () => {
            await nl(cl);
            const st = deleteRows(shape, '1', ops(ids, 0, 'delete'));
            return cl.query(st.text, st.values);
          }),
        'stage-typed-nl': (cl, ids) =>
          tx(cl, async () => {
            await nl(cl);
            await stage('st_typed', ids, 0, false);
            await cl.query(
              `WITH d AS (DELETE FROM t USING st_typed s WHERE t.id = s.k0 RETURNING s.ord)
               SELECT s.ord FROM st_typed s WHERE s.ord NOT IN (SELECT ord FROM d)`,
            );
          }),
        'stage-text': (cl, ids) =>
          tx(cl, async () => {
            await stage('st_text', ids, 0, false);
            await cl.query(
              `WITH d AS (DELETE FROM t USING st_text s WHERE t.id = s.k0::integer RETURNING s.ord)
               SELECT s.ord FROM st_text s WHERE s.ord NOT IN (SELECT ord FROM d)`,
            );
          }),
      };

      const times = new Map<string, number[]>();
      const time = async (name: string, f: () => Promise<void>) => {
        const t0 = performance.now();
        await f();
        const list = times.get(name) ?? [];
        list.push(performance.now() - t0);
        times.set(name, list);
      };
      // Inserts: fresh keys each time.
      let next = 1;
      for (let r = 0; r < REPS; r++) {
        for (const [name, f] of Object.entries(inserts)) {
          const ids = Array.from({ length: ROWS }, (_, i) => next + i);
          next += ROWS;
          await time(`insert ${name}`, () => f(c, ids, r));
        }
      }
      await c.query(
        `INSERT INTO t SELECT g, g % 1000, md5(g::text), now() FROM generate_series($1::int, $2::int) g`,
        [next, TABLE_ROWS],
      );
      await c.query('VACUUM ANALYZE t');
      const random = () =>
        Array.from(
          new Set(Array.from({ length: ROWS }, () => 1 + Math.floor(Math.random() * TABLE_ROWS))),
        );
      for (let r = 0; r < REPS; r++) {
        for (const [name, f] of Object.entries(updates)) {
          await time(`update ${name}`, () => f(c, random(), r));
        }
      }
      for (let r = 0; r < REPS; r++) {
        for (const [name, f] of Object.entries(deletes)) {
          await time(`delete ${name}`, () => f(c, random(), r));
        }
      }
      const explains: string[] = [];
      for (const st of [
        updateRows(shape, '1', ops(random(), 0, 'update')),
        deleteRows(shape, '1', ops(random(), 0, 'delete')),
      ]) {
        const e = await c.query(`EXPLAIN ${st.text}`, st.values);
        explains.push(...e.rows.map((r) => `  ${r['QUERY PLAN']}`));
      }
      console.log(
        `\nPG ${version}: ${ROWS.toLocaleString('en')} rows per statement, median of ${REPS} (rows/s)`,
      );
      for (const [name, list] of times) {
        const sorted = [...list].sort((a, b) => a - b);
        const med = sorted[Math.floor(sorted.length / 2)]!;
        console.log(
          `  ${name.padEnd(24)} ${Math.round((ROWS / med) * 1000)
            .toLocaleString('en')
            .padStart(9)}`,
        );
      }
      if (process.env.KUVASZ_BENCH_EXPLAIN) console.log(explains.join('\n'));
      c.release();
      await pool.end();
    } finally {
      await cluster.stop();
    }
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
