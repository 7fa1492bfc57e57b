/**
 * History statement forms side by side (one connection, forms interleaved,
 * each batch in its own transaction), and what each index of the suggested
 * DDL costs. Not part of `pnpm bench`; bundle like bench.ts, then
 *   node bench/dist/history-forms.mjs
 * Env: KUVASZ_BENCH_ROWS (10,000), KUVASZ_BENCH_TABLE (500,000),
 * KUVASZ_BENCH_REPS (5), KUVASZ_BENCH_VERSIONS ("17,14").
 */
import { startPostgres } from '@kuvasz/testkit';
import pg from 'pg';
import { copyIn } from '../src/executor/copy-in.js';
import { CopyPayload } from '../src/planner/copy-payload.js';
import type { PlannedOp } from '../src/planner/plan-units.js';
import { resolveShape } from '../src/planner/shape.js';
import { closeAndReopen, insertVersions } from '../src/planner/statements.js';
import { loadTargetInfo } from '../src/target/target-meta.js';
import { benchRelation, benchRow, envNumber } from './forms-fixture.js';

const env = envNumber;
const ROWS = env('KUVASZ_BENCH_ROWS', 10_000);
const TABLE_ROWS = env('KUVASZ_BENCH_TABLE', 500_000);
const REPS = env('KUVASZ_BENCH_REPS', 5);
const VERSIONS = (process.env.KUVASZ_BENCH_VERSIONS ?? '17,14').split(',').map(Number);
const OPEN = `'9999-01-01 00:00:00+00'::timestamptz`;

const rel = benchRelation('h');
const row = benchRow;

const INDEXES: Record<string, string> = {
  'open+versions': `CREATE UNIQUE INDEX h_open ON h (id) WHERE kvsz_end = ${OPEN};
    CREATE INDEX h_versions ON h (id, kvsz_end);`,
  'open only': `CREATE UNIQUE INDEX h_open ON h (id) WHERE kvsz_end = ${OPEN};`,
  'versions only': 'CREATE INDEX h_versions ON h (id, kvsz_end);',
};

async function main(): Promise<void> {
  for (const version of VERSIONS) {
    const cluster = await startPostgres({
      version: version as 14 | 17,
      settings: { shared_buffers: '256MB', max_wal_size: '8GB' },
    });
    try {
      const db = await cluster.createDatabase();
      const pool = new pg.Pool({ connectionString: cluster.urlFor(db), max: 2 });
      pool.on('error', () => {});
      const c = await pool.connect();
      await c.query(`CREATE TEMP TABLE st (ord int, v0 int, v1 int, v2 text, v3 timestamptz, k0 int,
        tm timestamptz, op text) ON COMMIT DELETE ROWS`);
      const times = new Map<string, number[]>();
      const time = async (name: string, f: () => Promise<unknown>) => {
        await c.query('BEGIN');
        const t0 = performance.now();
        await f();
        await c.query('COMMIT');
        const list = times.get(name) ?? [];
        list.push(performance.now() - t0);
        times.set(name, list);
      };
      const nl = () => c.query('SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off');
      let tick = 0;
      const tm = () =>
        `2026-11-22 10:${String(Math.floor(tick / 60) % 60).padStart(2, '0')}:${String(tick++ % 60).padStart(2, '0')}+00`;
      for (const [ixName, ixSql] of Object.entries(INDEXES)) {
        await c.query(`DROP TABLE IF EXISTS h; CREATE TABLE h (id int NOT NULL, a int NOT NULL, b text, c timestamptz,
          kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL, kvsz_deleted boolean NOT NULL DEFAULT false); ${ixSql}`);
        const info = (await loadTargetInfo(c, { schema: 'public', table: 'h' }, 'history')).info!;
        const shape = resolveShape(rel, info);
        const ops = (ids: number[], salt: number, kind: 'insert' | 'update', time: string) =>
          ids.map(
            (id): PlannedOp<number> => ({
              kind,
              newT: row(id, salt),
              whereT: kind === 'insert' ? undefined : [String(id), null, null, null],
              keyChanged: false,
              time,
              quiet: false,
              refs: [id],
              seq: id,
            }),
          );
        const stage = (ids: number[], salt: number, time: string, op: string) => {
          const p = new CopyPayload();
          ids.forEach((id, i) => {
            p.row([String(i + 1), ...row(id, salt), String(id), time, op]);
          });
          return copyIn(c, 'COPY st (ord, v0, v1, v2, v3, k0, tm, op) FROM STDIN', p.take());
        };
        const insertForms: Record<string, (ids: number[], s: number) => Promise<unknown>> = {
          unnest: (ids, s) => {
            const st = insertVersions(shape, '1', ops(ids, s, 'insert', tm()));
            return c.query(st.text, st.values);
          },
          'stage-typed': async (ids, s) => {
            await stage(ids, s, tm(), 'I');
            return c.query(`WITH p AS MATERIALIZED (SELECT s.ord, (SELECT max(t.kvsz_end) FROM h t WHERE t.id = s.v0) AS last_end FROM st s),
              i AS (INSERT INTO h (id, a, b, c, kvsz_start, kvsz_end, kvsz_deleted)
                SELECT s.v0, s.v1, s.v2, s.v3, CASE WHEN p.last_end IS NULL THEN '1900-01-01 00:00:00+00'::timestamptz ELSE s.tm END, ${OPEN}, false
                FROM st s JOIN p ON p.ord = s.ord WHERE p.last_end IS DISTINCT FROM ${OPEN})
              SELECT p.ord FROM p WHERE p.last_end IS NOT DISTINCT FROM ${OPEN}`);
          },
          'probe+copy': async (ids, s) => {
            const had = await c.query(
              'SELECT k FROM unnest($1::int[]) k WHERE EXISTS (SELECT 1 FROM h WHERE h.id = k)',
              [`{${ids.join(',')}}`],
            );
            const old = new Set(had.rows.map((r) => r.k));
            const p = new CopyPayload();
            for (const id of ids) {
              if (old.has(id)) continue;
              p.row([...row(id, s), '1900-01-01 00:00:00+00', '9999-01-01 00:00:00+00', 'f']);
            }
            await c.query('SAVEPOINT x');
            await copyIn(
              c,
              'COPY h (id, a, b, c, kvsz_start, kvsz_end, kvsz_deleted) FROM STDIN',
              p.take(),
            );
            return c.query('RELEASE SAVEPOINT x');
          },
        };
        const updateForms: Record<string, (ids: number[], s: number) => Promise<unknown>> = {
          unnest: (ids, s) => {
            const st = closeAndReopen(shape, '1', ops(ids, s, 'update', tm()));
            return c.query(st.text, st.values);
          },
          'unnest-nl': async (ids, s) => {
            await nl();
            const st = closeAndReopen(shape, '1', ops(ids, s, 'update', tm()));
            return c.query(st.text, st.values);
          },
          'stage-typed-nl': async (ids, s) => {
            await nl();
            await stage(ids, s, tm(), 'U');
            return c.query(`WITH s AS MATERIALIZED (SELECT * FROM st),
              c AS (UPDATE h t SET kvsz_end = s.tm FROM s WHERE t.kvsz_end = ${OPEN} AND t.id = s.k0
                RETURNING s.ord, s.v0, s.v1, s.v2, s.v3, s.tm),
              i AS (INSERT INTO h (id, a, b, c, kvsz_start, kvsz_end, kvsz_deleted)
                SELECT c.v0, c.v1, c.v2, c.v3, c.tm, ${OPEN}, false FROM c)
              SELECT s.ord FROM s WHERE s.ord NOT IN (SELECT c.ord FROM c)`);
          },
          'close-nl+copy': async (ids, s) => {
            await nl();
            const time = tm();
            const u = await c.query(
              `WITH s AS MATERIALIZED (SELECT * FROM unnest($1::int[]) WITH ORDINALITY AS s(k0, ord)),
                c AS (UPDATE h t SET kvsz_end = $2::timestamptz FROM s WHERE t.kvsz_end = ${OPEN} AND t.id = s.k0 RETURNING s.ord)
               SELECT s.ord FROM s WHERE s.ord NOT IN (SELECT c.ord FROM c)`,
              [`{${ids.join(',')}}`, time],
            );
            const p = new CopyPayload();
            for (const id of ids) p.row([...row(id, s), time, '9999-01-01 00:00:00+00', 'f']);
            await copyIn(
              c,
              'COPY h (id, a, b, c, kvsz_start, kvsz_end, kvsz_deleted) FROM STDIN',
              p.take(),
            );
            return u;
          },
        };
        let next = ixName.includes('versions') ? 1 : 0;
        for (let r = 0; r < REPS; r++) {
          for (const [name, f] of Object.entries(insertForms)) {
            // Without the versions index the probe of earlier versions scans the table.
            if (!ixName.includes('versions')) continue;
            const ids = Array.from({ length: ROWS }, (_, i) => next + i);
            next += ROWS;
            await time(`${ixName}: insert ${name}`, () => f(ids, r));
          }
        }
        await c.query(
          `INSERT INTO h SELECT g, g % 1000, md5(g::text), now(), '1900-01-01', ${OPEN}, false FROM generate_series($1::int, $2::int) g`,
          [next, TABLE_ROWS],
        );
        await c.query('VACUUM ANALYZE h');
        for (let r = 0; r < REPS; r++) {
          for (const [name, f] of Object.entries(updateForms)) {
            // Distinct random keys that each still have an open version.
            const ids = [
              ...new Set(
                Array.from({ length: ROWS }, () => 1 + Math.floor(Math.random() * TABLE_ROWS)),
              ),
            ];
            await time(`${ixName}: update ${name}`, () => f(ids, r + 10));
          }
        }
      }
      console.log(
        `\nPG ${version}: ${ROWS.toLocaleString('en')} rows per statement, median of ${REPS} (rows/s)`,
      );
      for (const [name, list] of times) {
        const sorted = [...list].sort((a, b) => a - b);
        const med = sorted[Math.floor(sorted.length / 2)]!;
        console.log(
          `  ${name.padEnd(40)} ${Math.round((ROWS / med) * 1000)
            .toLocaleString('en')
            .padStart(9)}`,
        );
      }
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
