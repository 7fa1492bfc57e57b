/**
 * Per-transaction cost of the engine under a light load from many sources
 * (the many-tenants shape): single-row insert transactions at a fixed rate,
 * round robin over K sources, into one `(sid, id)` table. Prints this
 * process's CPU per source transaction, the destination server's, how many
 * destination transactions carried them, and push-to-durable latency.
 * A diagnostic for before/after comparisons in one session (no baseline:
 * the tenants scenario of `pnpm bench` compares with native replication).
 *
 * `pnpm --filter @kuvasz/apply bench trickle`. Env:
 * KUVASZ_BENCH_SOURCES (default 100), KUVASZ_BENCH_RATE (transactions/s,
 * default 500), KUVASZ_BENCH_SECONDS (default 10), KUVASZ_BENCH_WORKERS.
 */
import fs from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { startPostgres } from '@kuvasz/testkit';
import type { SourceId } from '../src/index.js';
import { clusterCpu, commitCount, postmasterPid } from './cpu-usage.js';
import { benchEngine, benchRelation } from './forms-fixture.js';

const SOURCES = Number(process.env.KUVASZ_BENCH_SOURCES ?? 100);
const RATE = Number(process.env.KUVASZ_BENCH_RATE ?? 500);
const SECONDS = Number(process.env.KUVASZ_BENCH_SECONDS ?? 10);
const WORKERS = Number(process.env.KUVASZ_BENCH_WORKERS ?? 4);

const rel = benchRelation('t');
const cluster = await startPostgres({ version: 17, settings: { shared_buffers: '256MB' } });
try {
  const db = await cluster.createDatabase();
  await cluster.sql(
    'CREATE TABLE t (sid text NOT NULL, id int NOT NULL, a int NOT NULL, b text, c timestamptz, PRIMARY KEY (sid, id))',
    [],
    db,
  );
  const { engine, pool } = benchEngine(cluster.urlFor(db), WORKERS);
  await engine.start();
  const sources: SourceId[] = Array.from({ length: SOURCES }, (_, i) => ({
    database: 'b',
    sid: `t${i + 1}`,
  }));
  const pushedAt = new Map<string, number>();
  const latencies: number[] = [];
  engine.onDurable((source, lsn) => {
    const at = pushedAt.get(`${source.sid}/${lsn}`);
    if (at === undefined) return;
    latencies.push(performance.now() - at);
    pushedAt.delete(`${source.sid}/${lsn}`);
  });
  const commits = () => commitCount(cluster, db);
  const lsns = new Map<string, bigint>();
  const total = RATE * SECONDS;
  // Garbage collection pauses during the run: at a few ms each, they are what a p99 of single-row transactions sees.
  const pauses: number[] = [];
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push(e.duration);
  });
  gc.observe({ entryTypes: ['gc'] });
  const x0 = await commits();
  const postmaster = await postmasterPid(cluster);
  const d0 = clusterCpu(postmaster);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let pushed = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * RATE));
      const batch: Promise<void>[] = [];
      for (; pushed < due; pushed++) {
        const source = sources[pushed % SOURCES]!;
        const lsn = (lsns.get(source.sid) ?? 1000n) + 100n;
        lsns.set(source.sid, lsn);
        pushedAt.set(`${source.sid}/${lsn}`, performance.now());
        batch.push(
          engine.push({
            source,
            commitLsn: lsn,
            commitTime: new Date().toISOString(),
            changes: [
              {
                op: 'insert',
                relation: rel,
                new: [
                  String(pushed),
                  String(pushed % 1000),
                  '5d41402abc4b2a76b9719d911017c592',
                  '2026-11-22 10:00:00.123456+00',
                ],
              },
            ],
          }),
        );
      }
      Promise.all(batch).catch(reject);
      if (pushed >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  await engine.flush();
  const cpu = process.cpuUsage(cpu0);
  gc.disconnect();
  pauses.sort((a, b) => a - b);
  const destCpu = clusterCpu(postmaster) - d0;
  const destTx = (await commits()) - x0 - 1;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN;
  console.log(
    `${total} transactions from ${SOURCES} sources at ${RATE}/s (workers ${WORKERS}): this process ${((cpu.user + cpu.system) / total).toFixed(0)} us CPU per transaction, destination ${((destCpu * 1e6) / total).toFixed(0)} us; ${destTx} destination transactions (${(total / Math.max(1, destTx)).toFixed(1)} per); push to durable p50 ${pct(0.5).toFixed(1)} ms, p99 ${pct(0.99).toFixed(1)} ms`,
  );
  const threads = fs
    .readdirSync('/proc/self/task')
    .map((t) => {
      const text = fs.readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const name = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      return { name, ms: (Number(f[11]) + Number(f[12])) * 10 };
    })
    .filter((t) => t.ms > 0)
    .map((t) => `${t.name} ${t.ms} ms`);
  console.log(
    `garbage collections: ${pauses.length} (${((1000 * pauses.length) / total).toFixed(1)} per 1,000 transactions), pause p50 ${(pauses[Math.floor(pauses.length / 2)] ?? 0).toFixed(1)} ms, max ${(pauses.at(-1) ?? 0).toFixed(1)} ms, ${pauses.reduce((a, b) => a + b, 0).toFixed(0)} ms in all`,
  );
  console.log(
    `CPU user ${(cpu.user / 1000).toFixed(0)} ms, system ${(cpu.system / 1000).toFixed(0)} ms; threads since start: ${threads.join(', ')}`,
  );
  await engine.close();
  await pool.end();
} finally {
  await cluster.stop();
}
