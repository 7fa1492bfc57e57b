/**
 * Engine-only micro benchmark (no source, no decoding): N inserts in 10-row
 * transactions, then N updates, pushed from memory into a clone target.
 * `pnpm --filter @kuvasz/apply bench engine-only`. Env:
 * KUVASZ_BENCH_CHANGES (default 200,000), KUVASZ_BENCH_WORKERS;
 * KUVASZ_BENCH_RULES=1 gives the table row rules that keep every row (a
 * filter reading one column): the cost of the rules' path in the engine.
 * KUVASZ_BENCH_WIRE=1 pushes inserts as wire tuples (bytes in shared
 * chunks, as the streamer's arena keeps them) instead of strings. Prints
 * this process's CPU per change for each phase.
 */
import { startPostgres } from '@kuvasz/testkit';
import type { RowChange, RowRules, SourceTransaction, WireTuple } from '../src/index.js';
import { benchEngine, benchRelation } from './forms-fixture.js';

const N = Number(process.env.KUVASZ_BENCH_CHANGES ?? 200_000);
const WORKERS = Number(process.env.KUVASZ_BENCH_WORKERS ?? 4);

const rel = benchRelation('t');
const WIRE = process.env.KUVASZ_BENCH_WIRE === '1';

/** Rows as wire tuples in shared chunks, as @kuvasz/pgoutput's TupleArena keeps them. */
const encoder = new TextEncoder();
let chunk = new Uint8Array(256 * 1024);
let chunkPos = 0;
let offsets = new Int32Array(32 * 1024);
let offsetPos = 0;
function wire(values: string[]): WireTuple {
  const bytes = values.map((v) => encoder.encode(v));
  const size = bytes.reduce((n, b) => n + b.length, 0);
  if (chunkPos + size > chunk.length) {
    chunk = new Uint8Array(256 * 1024);
    chunkPos = 0;
  }
  if (offsetPos + 2 * values.length > offsets.length) {
    offsets = new Int32Array(32 * 1024);
    offsetPos = 0;
  }
  const at = offsetPos;
  bytes.forEach((b, i) => {
    chunk.set(b, chunkPos);
    offsets[at + 2 * i] = chunkPos;
    offsets[at + 2 * i + 1] = b.length;
    chunkPos += b.length;
  });
  offsetPos += 2 * values.length;
  return { bytes: chunk, offsets, at, count: values.length };
}

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
  const { engine, pool } = benchEngine(
    cluster.urlFor(db),
    WORKERS,
    {
      ...(process.env.KUVASZ_BENCH_BATCH
        ? { batchRows: Number(process.env.KUVASZ_BENCH_BATCH) }
        : {}),
      ...(process.env.KUVASZ_BENCH_PENDING
        ? { maxPendingRows: Number(process.env.KUVASZ_BENCH_PENDING) }
        : {}),
    },
    process.env.KUVASZ_BENCH_RULES === '1' ? { rows: keepAll } : {},
  );
  await engine.start();
  let lsn = 1000n;
  for (const phase of ['insert', 'update'] as const) {
    // Made before the clock starts: only the engine's work is timed.
    const txs: SourceTransaction[] = [];
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
            ? WIRE
              ? { op: 'insert', relation: rel, wire: wire(row) }
              : { op: 'insert', relation: rel, new: row }
            : { op: 'update', relation: rel, new: row },
        );
      }
      lsn += 100n;
      txs.push({
        source: { database: 'b', sid: '1' },
        commitLsn: lsn,
        commitTime: '2026-11-22 10:00:00+00',
        changes,
      });
    }
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (const tx of txs) await engine.push(tx);
    await engine.flush();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    console.log(
      `${phase}${phase === 'insert' && WIRE ? ' (wire)' : ''}: ${N} changes in ${(ms / 1000).toFixed(2)} s = ${Math.round((N / ms) * 1000)} rows/s (workers ${WORKERS}); this process ${((cpu.user + cpu.system) / N).toFixed(2)} us CPU per change`,
    );
  }
  console.log(`peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);
  await engine.close();
  await pool.end();
} finally {
  await cluster.stop();
}
