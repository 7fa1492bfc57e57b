/**
 * Engine-only micro benchmark (no source, no decoding): N inserts in 10-row
 * transactions, then N updates, pushed from memory into a clone target.
 * `node bench/dist/engine-only.mjs` after bundling like bench.ts. Env:
 * KUVASZ_BENCH_CHANGES (default 200,000), KUVASZ_BENCH_WORKERS;
 * KUVASZ_BENCH_RULES=1 gives the table row rules that keep every row (a
 * filter reading one column): the cost of the rules' path in the engine.
 */
import { startPostgres } from '@kuvasz/testkit';
import pg from 'pg';
import { ApplyEngine, type RowChange, type RowRules } from '../src/index.js';
import { benchRelation } from './forms-fixture.js';

const N = Number(process.env.KUVASZ_BENCH_CHANGES ?? 200_000);
const WORKERS = Number(process.env.KUVASZ_BENCH_WORKERS ?? 4);

const rel = benchRelation('t');

const keepAll: RowRules = {
  bind: () => ({ filter: { reads: [1], test: (row) => row[1] !== '-1' }, computed: [] }),
};

const cluster = await startPostgres({
  version: 17,
  settings: { shared_buffers: '256MB', max_wal_size: '8GB' },
});
try {
  const db = await cluster.createDatabase();
  await cluster.sql(
    'CREATE TABLE t (id int PRIMARY KEY, a int NOT NULL, b text, c timestamptz)',
    [],
    db,
  );
  const pool = new pg.Pool({ connectionString: cluster.urlFor(db), max: WORKERS + 2 });
  pool.on('error', () => {});
  const engine = new ApplyEngine({
    destination: pool,
    workers: WORKERS,
    ...(process.env.KUVASZ_BENCH_BATCH
      ? { batchRows: Number(process.env.KUVASZ_BENCH_BATCH) }
      : {}),
    ...(process.env.KUVASZ_BENCH_PENDING
      ? { maxPendingRows: Number(process.env.KUVASZ_BENCH_PENDING) }
      : {}),
    tables: [
      {
        source: { database: 'b', schema: 'public', table: 't' },
        target: { schema: 'public', table: 't' },
        type: 'clone',
        ...(process.env.KUVASZ_BENCH_RULES === '1' ? { rows: keepAll } : {}),
      },
    ],
  });
  await engine.start();
  let lsn = 1000n;
  for (const phase of ['insert', 'update'] as const) {
    const t0 = performance.now();
    for (let i = 0; i < N; i += 10) {
      const changes: RowChange[] = [];
      for (let k = i; k < i + 10; k++) {
        const row = [
          String(k),
          String(k % 1000),
          '5d41402abc4b2a76b9719d911017c592',
          '2026-11-22 10:00:00.123456+00',
        ];
        changes.push(
          phase === 'insert'
            ? { op: 'insert', relation: rel, new: row }
            : { op: 'update', relation: rel, new: row },
        );
      }
      lsn += 100n;
      await engine.push({
        source: { database: 'b', sid: '1' },
        commitLsn: lsn,
        commitTime: '2026-11-22 10:00:00+00',
        changes,
      });
    }
    await engine.flush();
    const ms = performance.now() - t0;
    console.log(
      `${phase}: ${N} changes in ${(ms / 1000).toFixed(2)} s = ${Math.round((N / ms) * 1000)} rows/s (workers ${WORKERS})`,
    );
  }
  console.log(`peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);
  await engine.close();
  await pool.end();
} finally {
  await cluster.stop();
}
