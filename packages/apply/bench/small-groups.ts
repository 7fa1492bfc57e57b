/**
 * What a light steady load costs per source transaction: pgbench-like
 * transactions (3 updates of 3 tables and 1 insert) from one source at a
 * fixed rate, through the engine, next to a baseline in the same run: the
 * same transactions applied by a minimal applier that sends each one as
 * plain statements (BEGIN, the 4 statements with literals, COMMIT) in one
 * round trip, as soon as it arrives, on one connection (what native
 * replication's apply worker does, minus its C efficiency). Prints
 * push-to-durable p50 / p99, this process's CPU and the destination
 * server's per transaction, and how many destination transactions carried
 * them. A before/after tool: `pnpm --filter @kuvasz/apply bench small-groups`.
 * Env: KUVASZ_BENCH_RATE (transactions/s, default 500), KUVASZ_BENCH_SECONDS
 * (default 8), KUVASZ_BENCH_WORKERS (default 4).
 */
import { type PgCluster, startPostgres } from '@kuvasz/testkit';
import pg from 'pg';
import { ApplyEngine, type SourceTransaction } from '../src/index.js';
import { fakeRelation } from '../src/testing/fake-target.js';
import { clusterCpu, commitCount, postmasterPid } from './cpu-usage.js';
import { envNumber } from './forms-fixture.js';

const RATE = envNumber('KUVASZ_BENCH_RATE', 500);
const SECONDS = envNumber('KUVASZ_BENCH_SECONDS', 8);
const WORKERS = envNumber('KUVASZ_BENCH_WORKERS', 4);

const accounts = fakeRelation(
  [
    ['aid', 23, true],
    ['bid', 23, false],
    ['abalance', 23, false],
    ['filler', 1042, false],
  ],
  'pgbench_accounts',
);
const tellers = fakeRelation(
  [
    ['tid', 23, true],
    ['bid', 23, false],
    ['tbalance', 23, false],
    ['filler', 1042, false],
  ],
  'pgbench_tellers',
);
const branches = fakeRelation(
  [
    ['bid', 23, true],
    ['bbalance', 23, false],
    ['filler', 1042, false],
  ],
  'pgbench_branches',
);
const history = fakeRelation(
  [
    ['hid', 20, true],
    ['tid', 23, false],
    ['bid', 23, false],
    ['aid', 23, false],
    ['delta', 23, false],
    ['mtime', 1114, false],
    ['filler', 1042, false],
  ],
  'pgbench_history',
);

const DDL = `CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
CREATE TABLE pgbench_tellers (tid int PRIMARY KEY, bid int, tbalance int, filler char(84));
CREATE TABLE pgbench_branches (bid int PRIMARY KEY, bbalance int, filler char(88));
CREATE TABLE pgbench_history (hid bigint PRIMARY KEY, tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
INSERT INTO pgbench_accounts SELECT g, 1, 0, '' FROM generate_series(1, 100000) g;
INSERT INTO pgbench_tellers SELECT g, 1, 0, '' FROM generate_series(1, 10) g;
INSERT INTO pgbench_branches VALUES (1, 0, '');
ANALYZE;`;

/** Transaction `n`'s values: an account, a teller, a delta. */
function values(n: number): { hid: string; aid: string; tid: string; delta: string } {
  return {
    hid: String(n + 1),
    aid: String(1 + ((n * 7919) % 100_000)),
    tid: String(1 + (n % 10)),
    delta: String(n % 5000),
  };
}

const MTIME = '2026-12-07 10:00:00.123456';

function transaction(n: number, lsn: bigint): SourceTransaction {
  const v = values(n);
  return {
    source: { database: 'b', sid: 's1' },
    commitLsn: lsn,
    commitTime: new Date().toISOString(),
    changes: [
      { op: 'update', relation: accounts, new: [v.aid, '1', v.delta, ''] },
      { op: 'update', relation: tellers, new: [v.tid, '1', v.delta, ''] },
      { op: 'update', relation: branches, new: ['1', v.delta, ''] },
      { op: 'insert', relation: history, new: [v.hid, v.tid, '1', v.aid, v.delta, MTIME, null] },
    ],
  };
}

function plainSql(n: number): string {
  const v = values(n);
  return `BEGIN; UPDATE pgbench_accounts SET bid = 1, abalance = ${v.delta}, filler = '' WHERE aid = ${v.aid};
UPDATE pgbench_tellers SET bid = 1, tbalance = ${v.delta}, filler = '' WHERE tid = ${v.tid};
UPDATE pgbench_branches SET bbalance = ${v.delta}, filler = '' WHERE bid = 1;
INSERT INTO pgbench_history VALUES (${v.hid}, ${v.tid}, 1, ${v.aid}, ${v.delta}, '${MTIME}', NULL); COMMIT`;
}

interface Figures {
  p50: number;
  p99: number;
  cpuUs: number;
  destUs: number;
  destTx: number;
}

/** Pushes `total` transactions at RATE through `push`; `done(n)` is called once n is durable. */
async function drive(
  cluster: PgCluster,
  db: string,
  total: number,
  push: (n: number, pushed: (n: number) => void) => void,
  drain: () => Promise<void>,
): Promise<Figures> {
  const pushedAt: number[] = [];
  const latencies: number[] = [];
  const durable = (n: number) => latencies.push(performance.now() - pushedAt[n]!);
  const commits = () => commitCount(cluster, db);
  const postmaster = await postmasterPid(cluster);
  const x0 = await commits();
  const d0 = clusterCpu(postmaster);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * RATE));
      for (; n < due; n++) {
        pushedAt[n] = performance.now();
        push(n, durable);
      }
      if (n >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  await drain();
  const cpu = process.cpuUsage(cpu0);
  const destCpu = clusterCpu(postmaster) - d0;
  const destTx = (await commits()) - x0 - 1;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  return {
    p50: pct(0.5),
    p99: pct(0.99),
    cpuUs: (cpu.user + cpu.system) / total,
    destUs: (destCpu * 1e6) / total,
    destTx,
  };
}

async function engineRun(cluster: PgCluster, total: number): Promise<Figures> {
  const db = await cluster.createDatabase();
  await cluster.sql(DDL, [], db);
  const pool = new pg.Pool({ connectionString: cluster.urlFor(db), max: WORKERS + 2 });
  pool.on('error', () => {});
  const engine = new ApplyEngine({
    destination: pool,
    workers: WORKERS,
    tables: [accounts, tellers, branches, history].map((r) => ({
      source: { database: 'b', schema: 'public', table: r.table },
      target: { schema: 'public', table: r.table },
      type: 'clone' as const,
    })),
  });
  await engine.start();
  const byLsn = new Map<bigint, number>();
  let onDurable: (n: number) => void = () => {};
  engine.onDurable((_source, lsn) => {
    const n = byLsn.get(lsn);
    if (n === undefined) return;
    byLsn.delete(lsn);
    onDurable(n);
  });
  try {
    return await drive(
      cluster,
      db,
      total,
      (n, durable) => {
        onDurable = durable;
        const lsn = 1000n + 100n * BigInt(n);
        byLsn.set(lsn, n);
        engine.push(transaction(n, lsn)).catch((e: unknown) => {
          console.error(e);
          process.exit(1);
        });
      },
      () => engine.flush(),
    );
  } finally {
    await engine.close();
    await pool.end();
  }
}

async function plainRun(cluster: PgCluster, total: number): Promise<Figures> {
  const db = await cluster.createDatabase();
  await cluster.sql(DDL, [], db);
  const client = new pg.Client({ connectionString: cluster.urlFor(db) });
  await client.connect();
  let last = Promise.resolve();
  try {
    return await drive(
      cluster,
      db,
      total,
      (n, durable) => {
        // One connection, in order: each query goes once the previous one is answered
        // (what pg's own queue did, without its deprecated query-while-busy path).
        last = last.then(() => client.query(plainSql(n))).then(() => durable(n));
      },
      () => last,
    );
  } finally {
    await client.end();
  }
}

const cluster = await startPostgres({ version: 17, settings: { shared_buffers: '256MB' } });
try {
  const total = RATE * SECONDS;
  const show = (name: string, f: Figures) =>
    console.log(
      `${name.padEnd(34)} p50 ${f.p50.toFixed(2).padStart(6)} ms, p99 ${f.p99.toFixed(2).padStart(6)} ms; CPU per transaction: this process ${f.cpuUs.toFixed(0).padStart(4)} us, destination ${f.destUs.toFixed(0).padStart(4)} us; ${(total / Math.max(1, f.destTx)).toFixed(1)} per destination transaction`,
    );
  console.log(
    `${total} pgbench-like transactions (3 updates, 1 insert) from one source at ${RATE}/s, push to durable:`,
  );
  show('plain statements, one round trip', await plainRun(cluster, total));
  show(`engine (workers ${WORKERS})`, await engineRun(cluster, total));
} finally {
  await cluster.stop();
}
